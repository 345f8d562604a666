// Mid-stream failures and their continuation (issue 15), shared by
// faults.test.mjs (a few streams of each kind, assertions) and
// contreport.mjs (the table in docs/resilience.md).
//
// Set-up: the cloud is netlab's fakellm in its namespace, behind the delay
// proxy; the device is a second fakellm on loopback with the cloud's label,
// so its full answer is the cloud's and it can continue any cloud answer
// (backends[].continuation "prefill").  Each stream is sent alone, so that
// timing at the join is the gateway's and not a queue's.  Kinds: fakellm's
// mid-stream faults (a reset connection, a stall past idle_ms, an error
// event, a body without finish_reason, a malformed event and then no
// finish_reason), and the real thing: the link to the cloud's namespace
// dropped by nftables once the client has the first tokens.
//
// For each stream: whether the client got the whole answer (status 200, one
// finish, [DONE], no error event, the text equal to the full answer), the
// gap at the join (the time between the last content event before it and
// the first after it, content or finish; where it is comes from the request's log line,
// "continued_after_chars"), and the characters lost or repeated (the text
// against the full answer: what is left of each once their common start and
// end are taken away).

import {
  startFake, startGateway, makeConfig, sse, chatBody, parseSse, sleep, waitFor,
} from '../integration/harness.mjs';
import { percentile } from './faultrun.mjs';

// 30 content events 20 ms apart: a 0.6 s answer, with the first tokens out
// well before the fault strikes after the eighth.
const ANSWER = { chunks: 30, chunk_delay_ms: 20 };
const AFTER = 8;
// The cloud's idle limit: a stalled or dropped link moves on after 1 s.
// The shipped config says 4 s (docs/resilience.md says why); 1 s here keeps
// the run short, and the gap at a stall's join is this limit plus the
// continuation's first byte.
const CLOUD_IDLE_MS = 1000;
const TEXT = 'Explain how a car keeps its lane on a motorway, step by step, with the sensors involved';

export const KINDS = [
  { id: 'cut', title: 'connection reset', mode: { cut_after: AFTER } },
  { id: 'stall', title: `stall past idle_ms (${CLOUD_IDLE_MS} ms)`, mode: { stall_after: AFTER } },
  { id: 'error', title: 'error event', mode: { error_event_after: AFTER } },
  { id: 'nofinish', title: 'body ends without finish_reason', mode: { no_finish: true } },
  { id: 'malformed', title: 'malformed event, then no finish_reason', mode: { malformed_after: AFTER, no_finish: true } },
  { id: 'netdrop', title: 'link to the cloud dropped by nftables after the first tokens', mode: {}, net: true },
];

/** Starts the continuing device and a gateway over it and env.lab's cloud. */
export async function startMidstream(env) {
  const device = await startFake({ model: 'qwen-small', label: 'cloud', mode: { chunks: 30 } });
  const cfg = makeConfig({
    device: device.url,
    cloud: env.lab.cloudUrl,
    cloudTimeouts: { connect_ms: 1000, first_byte_ms: 4000, idle_ms: CLOUD_IDLE_MS, total_ms: 15000 },
    routing: { deadline_ms: 15000, hedge_after_ms: 0 },
    // Probes and the circuit stay out of the way: every stream here fails on purpose.
    health: { probe_interval_ms: 600000 },
    extra: { circuit: { failures_to_open: 1000, min_requests: 1000000 } },
  });
  cfg.backends.find((b) => b.name === 'local').continuation = 'prefill';
  const gw = await startGateway(cfg);
  return { device, gw, lab: env.lab };
}

/** Characters lost and repeated in got against want. */
export function seamErrors(got, want) {
  const a = Array.from(got);
  const b = Array.from(want);
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  return { lost: b.length - p - s, repeated: a.length - p - s };
}

/** The request's log line, once the gateway wrote it. */
async function logLine(gw, id) {
  let line;
  await waitFor(() => {
    line = gw.stderrText().split('\n').find((l) => l.includes(`"request_id":"${id}"`) && l.includes('"status"'));
    return Boolean(line);
  }, { timeoutMs: 3000, what: `the log line of ${id}` });
  return JSON.parse(line);
}

/** One stream with the kind's fault; what came of it. */
async function one(ms, kind) {
  const times = [];
  let struck = false;
  const res = await sse(ms.gw.base, chatBody(TEXT, { model: 'cloud', stream: true }), {
    timeoutMs: 20000,
    onData: (raw) => {
      const n = raw.split('\n\n').length - 1;
      while (times.length < n) times.push(Date.now());
      if (kind.net && !struck && n >= 3) {
        struck = true;
        ms.lab.blackhole().catch(() => {});
      }
    },
  });
  if (kind.net) await ms.lab.heal();
  const want = ms.device.answer(TEXT);
  const events = parseSse(res.raw);
  const text = events.map((e) => e.json?.choices?.[0]?.delta?.content ?? '').join('');
  const whole = res.status === 200 && res.ended && events.at(-1)?.data === '[DONE]'
    && !events.some((e) => e.json && e.json.error) && text === want;
  const log = await logLine(ms.gw, res.headers['x-request-id']);
  let gapMs = null;
  if (log.continuation === 'completed') {
    let chars = 0;
    let prev = null;
    for (let i = 0; i < events.length; i++) {
      const choice = events[i].json?.choices?.[0];
      const c = choice?.delta?.content;
      // after a join at the very end, the continuation brings only the finish
      if (!c && !choice?.finish_reason) continue;
      if (chars >= log.continued_after_chars && prev !== null) {
        gapMs = times[i] - times[prev];
        break;
      }
      chars += Array.from(c || '').length;
      prev = i;
    }
  }
  return { whole, gapMs, ...seamErrors(text, want), continued: log.continuation ?? null, why: log.continued_why };
}

/** n streams of each kind (or of those in ids); one summary per kind. */
export async function measureMidstream(ms, { n, ids } = {}) {
  const out = [];
  for (const kind of KINDS.filter((k) => !ids || ids.includes(k.id))) {
    await ms.lab.fake.setMode({ ...ANSWER, ...kind.mode });
    const runs = [];
    for (let i = 0; i < n; i++) {
      runs.push(await one(ms, kind));
      await sleep(20);
    }
    await ms.lab.fake.setMode(ANSWER);
    const gaps = runs.map((r) => r.gapMs).filter((g) => g !== null);
    out.push({
      id: kind.id,
      title: kind.title,
      n: runs.length,
      completed: runs.filter((r) => r.whole).length,
      continued: runs.filter((r) => r.continued === 'completed').length,
      gapP50: percentile(gaps, 50),
      gapP99: percentile(gaps, 99),
      lost: runs.reduce((a, r) => a + r.lost, 0),
      repeated: runs.reduce((a, r) => a + r.repeated, 0),
      failures: runs.filter((r) => !r.whole).slice(0, 3),
    });
  }
  return out;
}
