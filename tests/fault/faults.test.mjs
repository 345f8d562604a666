// The fault suite of issue 3: the simulated cloud behind real network
// impairments (see netlab.mjs), a bounded mix of requests during each fault
// (see faultrun.mjs), and for each fault:
//  - every request is answered while the device tier is up,
//  - no request outlives its deadline,
//  - the cloud is used again after the fault is lifted,
//  - the fault took effect (so that nothing passes by accident),
// and the circuit breaker's behaviour; then the mid-stream failures of
// issue 15 (midstream.mjs), each continued on the device.  The faults are shorter than in report.mjs (the 503 one lasts
// 10 s here instead of 60 s) through the same code.  Where network namespaces
// or nftables are unavailable the suite is skipped, saying why, and ctest
// reports it as skipped (the line FAULT_SUITE_SKIPPED, tests/CMakeLists.txt);
// in CI (CI set and not "false": .ci/run sets it, as CI services do), which
// runs as root, an unavailable lab fails the run instead: the suite that
// proves the fallback under real faults must not pass by not running.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanStop } from '../integration/harness.mjs';
import { available } from './netlab.mjs';
import { KINDS, startMidstream, measureMidstream } from './midstream.mjs';
import {
  FAULTS, CLOUD, DEADLINE_MS, PROBE_INTERVAL_MS, startEnv, stopEnv, startFaultGateway, runFault,
  summarize,
} from './faultrun.mjs';

const FAULT_MS = 8000;
const FAULT_MS_503 = 10000;
// The client's own measurement adds a little to the gateway's deadline.
const DEADLINE_SLACK_MS = 500;
// The client's clock and the gateway's log stamps differ by the time a
// request takes to arrive.
const TRIAL_SLACK_MS = 100;
// Under 30 % loss about one cloud stream in ten that has begun stalls for
// seconds while TCP resends (measured on the bare link, without the gateway),
// and no gateway can take back a stream it has begun: about one in a hundred
// stalls past the cloud's idle limit and ends with an error event.  Under
// loss, and only there, such a stream counts as correctly handled when it
// ended with a well-formed error event (q.cut); the report counts it as not
// answered.
const TOLERATE_CUT_STREAMS = new Set(['loss30']);

const lab = await available();
const required = Boolean(process.env.CI) && process.env.CI !== 'false';

/**
 * The circuit.  Faults that make every cloud attempt fail must open the circuit; while it is open
 * complex requests go to the device at once (reason offline); after the lift
 * the circuit closes within a probe interval (plus the cooldown), and the
 * delay fault makes the gateway route around the slow cloud (slow_network).
 */
const MUST_OPEN = new Set(['blackhole', 'flap', 'http503']);
function assertCircuit(r, s) {
  if (MUST_OPEN.has(s.id)) {
    assert.notEqual(s.circuitOpenMs, null, `the cloud's circuit did not open during ${s.title}`);
  }
  const opened = r.circuit.filter((e) => e.to === 'open');
  for (const o of opened) {
    const next = r.circuit.find((e) => e.at > o.at);
    // a request sent in the last moment of the open period may be the trial
    // that ends it (open -> half_open is logged when a request claims it)
    const whileOpen = r.records.filter((q) => q.kind === 'complex' && q.start > o.at
      && (!next || q.start < next.at - TRIAL_SLACK_MS));
    for (const q of whileOpen) {
      assert.equal(q.reason, 'offline', `request #${q.seq}, sent while the circuit was open, has reason ${q.reason}`);
      assert.ok(q.ttfbMs < 500, `request #${q.seq}, sent while the circuit was open, took ${q.ttfbMs} ms to its first byte`);
    }
  }
  const last = r.circuit.filter((e) => e.at < r.liftedAt).pop();
  if (last && last.to !== 'closed') {
    assert.notEqual(s.circuitClosedMs, null, 'the circuit did not close after the fault was lifted');
    assert.ok(s.circuitClosedMs <= 2 * PROBE_INTERVAL_MS + 2000,
      `the circuit closed ${s.circuitClosedMs} ms after the lift, more than a probe interval and the cooldown`);
  }
  if (s.id === 'delay') {
    assert.ok(Object.keys(s.routes).some((k) => k.endsWith('/slow_network')),
      `no complex request was routed around the slow cloud: ${JSON.stringify(s.routes)}`);
  }
}

describe('faults', () => {
  if (!lab.ok && required) {
    it('has its network lab (required in CI)', () => {
      assert.fail(`the fault suite cannot run here: ${lab.reason}`);
    });
    return;
  }
  if (!lab.ok) {
    console.log(`FAULT_SUITE_SKIPPED: network lab unavailable: ${lab.reason}`);
    it('needs a network lab', { skip: `network lab unavailable: ${lab.reason}` }, () => {});
    return;
  }
  let env;
  before(async () => { env = await startEnv(); });
  after(async () => { if (env) await stopEnv(env); });

  for (const fault of FAULTS) {
    it(fault.title, async (t) => {
      const gw = await startFaultGateway(env);
      const r = await runFault(gw, env, fault, { faultMs: fault.id === 'http503' ? FAULT_MS_503 : FAULT_MS });
      await assertCleanStop(gw);
      const s = summarize(r);
      t.diagnostic(JSON.stringify({ ...s, failures: undefined }));
      const show = (list) => list.map((q) => `#${q.seq} ${q.kind}${q.stream ? ' stream' : ''} at +${q.start - r.faultStart} ms: ${q.error}`).join('\n');

      assert.equal(s.noEffect, null, `${fault.title} did not take effect: ${s.noEffect}`);
      assert.ok(r.records.some((q) => q.start < r.faultStart && q.answered && q.backend === CLOUD),
        'the cloud answered no request before the fault: the complex prompts no longer route to the cloud?');
      const tolerated = TOLERATE_CUT_STREAMS.has(fault.id) ? r.records.filter((q) => q.cut && q.backend === CLOUD) : [];
      if (tolerated.length) t.diagnostic(`tolerated: ${tolerated.length} cloud streams cut by the loss, ended with an error event`);
      const lost = r.records.filter((q) => !q.answered && !tolerated.includes(q));
      assert.equal(lost.length, 0, `${lost.length} of ${s.requests} requests not answered:\n${show(lost.slice(0, 5))}`);
      assert.ok(s.longestMs <= DEADLINE_MS + DEADLINE_SLACK_MS,
        `a request took ${s.longestMs} ms, past its deadline of ${DEADLINE_MS} ms`);
      assert.notEqual(s.cloudAgainMs, null, 'the cloud answered no request sent after the fault was lifted');
      assertCircuit(r, s);
    });
  }

  // Issue 15: every mid-stream failure kind, the nftables drop of the link
  // included, is continued on the device, and the client gets the whole
  // answer with nothing lost or repeated at the join.
  it('mid-stream failures are continued on the device, joined exactly', async (t) => {
    const ms = await startMidstream(env);
    const rows = await measureMidstream(ms, { n: 4 });
    await assertCleanStop(ms.gw);
    await ms.device.stop();
    t.diagnostic(JSON.stringify(rows.map((r) => ({ ...r, failures: undefined }))));
    assert.deepEqual(rows.map((r) => r.id), KINDS.map((k) => k.id));
    for (const r of rows) {
      assert.equal(r.completed, r.n, `${r.title}: ${r.n - r.completed} of ${r.n} answers not whole: ${JSON.stringify(r.failures)}`);
      assert.equal(r.continued, r.n, `${r.title}: ${r.n - r.continued} of ${r.n} streams were not continued`);
      assert.equal(r.lost + r.repeated, 0, `${r.title}: ${r.lost} characters lost, ${r.repeated} repeated`);
      assert.notEqual(r.gapP99, null, `${r.title}: no join was measured`);
    }
  });
});
