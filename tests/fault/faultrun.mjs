// The fault runner shared by faults.test.mjs (short faults, assertions) and
// report.mjs (full-length faults, the table in docs/resilience.md).
//
// Set-up: the device tier is a fakellm on loopback, the cloud tier a fakellm
// in netlab's namespace behind its delay proxy, and a fresh gateway for each
// fault.  A fault run sends a steady, bounded mix of requests (simple and
// complex, plain and streaming) at a fixed pace, with a cap on how many are in
// flight, through three phases: a healthy start, the fault, and the recovery
// after it was lifted, until the cloud answers again (or a cap).  Each request
// records whether it was answered, its time to first byte and in total, and
// which backend answered and why; the gateway's stderr gives the circuit
// changes.  summarize() turns that into the figures of the report.

import {
  startFake, startGateway, makeConfig, chat, sse, chatBody, streamedContent, sleep, waitFor,
  scaled, killAll,
} from '../integration/harness.mjs';
import { createLab } from './netlab.mjs';

/* The gateway's resilience settings for the faults: a 1.5 s first-byte
 * budget (the 2 s delay must be routed around), one retry, and a circuit
 * that opens after three failures or half of four requests in 10 s and tries
 * again after 2 s (or the next good probe). */
const RESILIENCE = {
  routing: { max_first_byte_ms: 1500, hedge_after_ms: 0, retries: 1, retry_backoff_ms: 100 },
  circuit: { failures_to_open: 3, error_rate: 0.5, window_ms: 10000, min_requests: 4, cooldown_ms: 2000 },
};

export const DEADLINE_MS = 8000;
export const PROBE_INTERVAL_MS = 1000;
// The cloud's limits: a connect that takes a second is a dead network, an
// answer may take a while to start, and a stream may pause for a while (TCP
// needs 3 s to resend a segment lost four times) but not past the deadline.
const CLOUD_TIMEOUTS = { connect_ms: 1000, first_byte_ms: 4000, idle_ms: 6000, total_ms: 7500 };
const DEVICE = 'local';
export const CLOUD = 'bigcloud';
// A real model streams a token of a few characters per event; 30 chunks give
// the simulated answers that shape, so that a stream weighs some 7 kB on the
// wire and a narrow link shows in its timing.
const ANSWER_MODE = { chunks: 30 };

// Prompts the classifier routes without doubt (score < 0.1 or > 0.85 today).
const MIX = [
  { kind: 'simple', stream: false, text: '打开空调' },
  { kind: 'complex', stream: false, text: 'Prove that there are infinitely many primes, step by step.' },
  { kind: 'simple', stream: true, text: 'turn on the AC' },
  { kind: 'complex', stream: true, text: 'Implement a thread-safe LRU cache in C++ with unit tests and explain the design trade-offs' },
];

/**
 * The faults of issue 3.  apply(lab) starts one; liftAll() ends any.  check()
 * says, from a run's result, why the fault did not take effect (or null), so
 * that a fault that silently did nothing cannot pass for resilience.
 */
export const FAULTS = [
  {
    id: 'blackhole',
    title: 'blackhole (every packet dropped)',
    apply: (lab) => lab.blackhole(),
    check: (r) => (r.effect.dropped > 0 ? null : 'nftables dropped no packet'),
  },
  {
    id: 'delay',
    title: '2 s added delay (1 s each way)',
    apply: (lab) => lab.delay(1000, 1000),
    check: (r) => {
      // a request sent in the last 2 s of the fault may get its answer undelayed
      const fast = r.records.filter((q) => inFault(r, q) && q.start < r.liftedAt - 2000
        && q.backend === CLOUD && q.ttfbMs < 2000);
      return fast.length ? `${fast.length} cloud answers in the fault started within 2 s` : null;
    },
  },
  {
    id: 'loss30',
    title: '30 % packet loss',
    apply: (lab) => lab.loss(30),
    check: (r) => {
      const share = r.effect.dropped / (r.effect.packets || 1);
      return share > 0.15 && share < 0.45 ? null : `nftables dropped ${r.effect.dropped} of ${r.effect.packets} packets`;
    },
  },
  {
    id: 'bw64k',
    title: '64 kbit/s bandwidth',
    apply: (lab) => lab.bandwidth('64kbit'),
    check: (r) => (r.effect.overlimits > 0 ? null : 'the tbf held back no packet'),
  },
  {
    id: 'flap',
    title: 'link down and up every 2 s',
    apply: (lab) => lab.flap(2000),
    check: (r) => (r.records.some((q) => inFault(r, q) && q.kind === 'complex' && q.backend === DEVICE)
      ? null : 'no complex request went to the device while the link flapped'),
  },
  {
    id: 'http503',
    title: 'cloud answers 503, then recovers',
    apply: (lab) => lab.fake.setMode({ ...ANSWER_MODE, status: 503 }),
    check: (r) => (r.records.some((q) => inFault(r, q) && q.kind === 'complex' && q.backend === DEVICE)
      ? null : 'no complex request went to the device while the cloud answered 503'),
  },
];

/** Lifts every fault; resolves what the network impairments did (netlab's heal). */
export async function liftAll(lab) {
  const effect = await lab.heal();
  await lab.fake.setMode(ANSWER_MODE);
  return effect;
}

/* ---- environment ---------------------------------------------------------- */

/** Starts the device fakellm and the lab with the cloud in it. */
export async function startEnv() {
  const device = await startFake({ model: 'qwen-small', label: 'device', mode: ANSWER_MODE });
  const lab = await createLab({ model: 'big-model', label: 'cloud', mode: ANSWER_MODE });
  return { device, lab, fakes: { [DEVICE]: device, [CLOUD]: lab.fake } };
}

/** Stops everything startEnv and startFaultGateway started. */
export async function stopEnv(env) {
  env.lab.teardown();
  await killAll();
}

export function faultConfig(env) {
  return makeConfig({
    device: env.device.url,
    cloud: env.lab.cloudUrl,
    cloudTimeouts: CLOUD_TIMEOUTS,
    routing: { deadline_ms: DEADLINE_MS, ...RESILIENCE.routing },
    health: { probe_interval_ms: PROBE_INTERVAL_MS },
    extra: { circuit: RESILIENCE.circuit },
  });
}

/** A gateway for env that has probed the cloud once. */
export async function startFaultGateway(env) {
  const before = (await env.lab.fake.stats()).probes;
  const gw = await startGateway(faultConfig(env));
  await waitFor(async () => (await env.lab.fake.stats()).probes > before, { timeoutMs: 5000, what: 'a probe of the cloud' });
  return gw;
}

/* ---- load ----------------------------------------------------------------- */

/** Sends one request of the mix and records what came of it. */
async function send(gw, env, item, seq) {
  const rec = { seq, kind: item.kind, stream: item.stream, start: Date.now(), answered: false };
  const body = chatBody(item.text, item.stream ? { stream: true } : {});
  // The client waits past the deadline, so that a request that outlives it is
  // measured instead of cut short.
  const timeoutMs = DEADLINE_MS + 5000;
  try {
    const res = item.stream ? await sse(gw.base, body, { timeoutMs }) : await chat(gw.base, body, { timeoutMs });
    Object.assign(rec, {
      status: res.status,
      ttfbMs: res.ttfbMs,
      totalMs: res.elapsedMs,
      tier: res.headers['x-tiergate-tier'],
      backend: res.headers['x-tiergate-backend'],
      reason: res.headers['x-tiergate-reason'],
    });
    const fake = env.fakes[rec.backend];
    const want = fake && fake.answer(item.text);
    if (res.status !== 200) {
      rec.error = `status ${res.status}: ${(res.text ?? res.raw).slice(0, 300)}`;
    } else if (item.stream) {
      const last = res.events[res.events.length - 1];
      // the gateway ends a stream it cannot finish with an error event
      rec.cut = res.events.some((e) => e.json && e.json.error);
      rec.answered = res.ended && last && last.data === '[DONE]' && !rec.cut && streamedContent(res.events) === want;
      if (!rec.answered) rec.error = `incomplete stream: ${res.raw.slice(-300)}`;
    } else {
      rec.answered = res.json?.choices?.[0]?.message?.content === want;
      if (!rec.answered) rec.error = `unexpected answer: ${res.text.slice(0, 300)}`;
    }
  } catch (e) {
    rec.totalMs = Date.now() - rec.start;
    rec.error = e.message.slice(0, 300);
  }
  return rec;
}

/**
 * Starts sending the mix: one request every intervalMs while fewer than
 * maxInFlight are open, at most limit in all.  stop() resolves the records
 * once the open requests are done.
 */
export function startLoad(gw, env, { intervalMs = 250, maxInFlight = 8, limit = Infinity } = {}) {
  const records = [];
  const open = new Set();
  let seq = 0;
  let stopped = false;
  let timer = null;
  const tick = () => {
    if (stopped) return;
    if (open.size < maxInFlight && seq < limit) {
      const p = send(gw, env, MIX[seq % MIX.length], seq).then((rec) => {
        records.push(rec);
        open.delete(p);
      });
      open.add(p);
      seq++;
    }
    timer = setTimeout(tick, intervalMs);
  };
  timer = setTimeout(tick, 0);
  return {
    records,
    sent: () => seq,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all([...open]);
      return records.sort((a, b) => a.seq - b.seq);
    },
  };
}

/* ---- one fault ------------------------------------------------------------ */

function inFault(r, q) {
  return q.start >= r.faultStart && q.start < r.liftedAt;
}

/** The gateway's JSON log lines with the given msg, ts parsed to ms. */
function logEvents(stderr, msg) {
  const out = [];
  for (const line of stderr.split('\n')) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    try {
      const o = JSON.parse(line);
      out.push({ ...o, at: Date.parse(o.ts) });
    } catch { /* not a whole JSON line */ }
  }
  return out;
}

/**
 * Runs one fault against gw: healthy for warmMs, the fault for faultMs, then
 * lifted until the cloud has answered a request sent after the lift (at most
 * recoveryCapMs).  Resolves {fault, faultStart, liftedAt, endedAt, effect,
 * records, circuit (events)}; the gateway keeps running.
 */
export async function runFault(gw, env, fault, { faultMs, warmMs = 2000, recoveryCapMs = 15000, load = {} } = {}) {
  const l = startLoad(gw, env, load);
  let faultStart;
  let liftedAt;
  let effect;
  try {
    await sleep(warmMs);
    faultStart = Date.now();
    await fault.apply(env.lab);
    await sleep(faultMs);
    liftedAt = Date.now();
    effect = await liftAll(env.lab);
    const cloudAgain = () => l.records.some((q) => q.start >= liftedAt && q.answered && q.backend === CLOUD);
    while (!cloudAgain() && Date.now() - liftedAt < scaled(recoveryCapMs)) await sleep(100);
  } finally {
    // a load left running would keep the process alive after a failure
    await l.stop();
  }
  const records = l.records;
  const stderr = gw.stderrText();
  return {
    fault,
    faultMs,
    faultStart,
    liftedAt,
    endedAt: Date.now(),
    effect,
    records,
    circuit: logEvents(stderr, 'circuit changed').filter((e) => e.backend === CLOUD),
  };
}

/* ---- figures -------------------------------------------------------------- */

/** Nearest-rank percentile of numbers; null for none. */
export function percentile(values, p) {
  if (!values.length) return null;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.max(0, Math.ceil((p / 100) * v.length) - 1)];
}

function firstAfter(events, t0, to) {
  const e = events.find((x) => x.at >= t0 && x.to === to);
  return e ? e.at - t0 : null;
}

/**
 * The figures of one run:
 *  answered/requests   over the whole run
 *  ttfb                p50/p99 of answered requests sent during the fault, by kind
 *  circuitOpenMs       fault start -> the cloud's circuit opened (null: it did not)
 *  circuitClosedMs     lift -> the circuit closed again
 *  cloudAgainMs        lift -> the first request sent after it that the cloud answered
 *  longestMs           the longest request, to compare with DEADLINE_MS
 *  routes              "backend/reason" -> count, of complex requests sent during the fault
 *  failures            the first few requests not answered
 */
export function summarize(r) {
  const fault = r.records.filter((q) => inFault(r, q));
  const ttfb = (kind) => {
    const v = fault.filter((q) => q.kind === kind && q.answered).map((q) => q.ttfbMs);
    return { n: v.length, p50: percentile(v, 50), p99: percentile(v, 99) };
  };
  const routes = {};
  for (const q of fault.filter((x) => x.kind === 'complex')) {
    const k = q.answered ? `${q.backend}/${q.reason}` : 'not answered';
    routes[k] = (routes[k] || 0) + 1;
  }
  const again = r.records.find((q) => q.start >= r.liftedAt && q.answered && q.backend === CLOUD);
  return {
    id: r.fault.id,
    title: r.fault.title,
    faultMs: r.faultMs,
    requests: r.records.length,
    answered: r.records.filter((q) => q.answered).length,
    ttfb: { simple: ttfb('simple'), complex: ttfb('complex') },
    circuitOpenMs: firstAfter(r.circuit, r.faultStart, 'open'),
    circuitClosedMs: firstAfter(r.circuit, r.liftedAt, 'closed'),
    cloudAgainMs: again ? again.start - r.liftedAt : null,
    longestMs: Math.max(0, ...r.records.map((q) => q.totalMs)),
    deadlineMs: DEADLINE_MS,
    routes,
    effect: r.effect,
    noEffect: r.fault.check(r),
    failures: r.records.filter((q) => !q.answered).slice(0, 5),
  };
}
