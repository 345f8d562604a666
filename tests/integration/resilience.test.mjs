// Resilience inside one machine: retries on the same backend (bounded, with
// back-off, obeying Retry-After), one deadline for the whole request, circuit
// breakers that skip a failing backend at once and bring it back after a
// probe, slow_network routing from measured first-byte times, and hedging.
// Real network faults (loss, blackhole, bandwidth) are tests/fault/'s job.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startFake, startGateway, makeConfig, chat, sse, request, chatBody, streamedContent,
  assertTieringHeaders, assertErrorBody, assertSseWire, waitFor, waitProbes, sleep, assertCleanStop,
} from './harness.mjs';

const SIMPLE = 'open the sunroof please';
const COMPLEX = 'Prove that there are infinitely many primes, step by step';

let device;
let cloud;

before(async () => {
  device = await startFake({ model: 'qwen-small', label: 'device' });
  cloud = await startFake({ model: 'big-model', label: 'cloud' });
});

after(async () => {
  await device.stop();
  await cloud.stop();
});

async function fresh() {
  await device.setMode({});
  await cloud.setMode({});
  await device.clear();
  await cloud.clear();
}

/** A gateway with probes only at start unless health says otherwise. */
async function gateway({ routing = {}, circuit, health = { probe_interval_ms: 60000 }, cloudTimeouts = {} } = {}) {
  await fresh();
  const extra = circuit ? { circuit } : {};
  const gw = await startGateway(makeConfig({
    device: device.url, cloud: cloud.url, health, routing: { retry_backoff_ms: 300, ...routing }, extra,
    cloudTimeouts: { first_byte_ms: 3000, ...cloudTimeouts },
  }));
  await waitProbes([device, cloud]);
  return gw;
}

function circuitLines(gw) {
  return gw.stderrText().split('\n').filter((l) => l.includes('"msg":"circuit changed"')).map((l) => JSON.parse(l));
}

async function timed(p) {
  const t0 = Date.now();
  const res = await p;
  return { res, ms: Date.now() - t0 };
}

describe('retries on the same backend', () => {
  it('a 503 is retried after a back-off, and the retry answers', async () => {
    const gw = await gateway();
    await cloud.setMode({ status: 503 });
    const pending = timed(chat(gw.base, chatBody(COMPLEX)));
    // the first attempt arrives; heal the cloud before the back-off (>= 150 ms) ends
    await waitFor(async () => (await cloud.requests()).length >= 1, { intervalMs: 5, what: 'first attempt' });
    await cloud.setMode({});
    const { res, ms } = await pending;
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-tiergate-backend'], 'bigcloud');
    assert.equal(res.headers['x-tiergate-reason'], 'complexity', 'a retry on the same backend is no fallback');
    assert.equal((await cloud.requests()).length, 2);
    assert.equal((await device.requests()).length, 0);
    assert.ok(ms >= 150, `the retry came after ${ms} ms: no back-off`);
    await assertCleanStop(gw);
  });

  it('retries are bounded by routing.retries, then the next tier answers', async () => {
    // a circuit that never opens here: three failures per request would open the default one
    const gw = await gateway({ routing: { retries: 2, retry_backoff_ms: 50 }, circuit: { failures_to_open: 100, min_requests: 1000 } });
    for (const status of [500, 502, 503]) {
      await cloud.clear();
      await cloud.setMode({ status });
      const res = await chat(gw.base, chatBody(`${COMPLEX} (${status})`));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['x-tiergate-reason'], 'fallback');
      assert.equal(res.headers['x-tiergate-backend'], 'local');
      assert.equal((await cloud.requests()).length, 3, `HTTP ${status}: 1 attempt + 2 retries`);
    }
    await assertCleanStop(gw);
  });

  it('no retry where a retry cannot help: 400, 401, 404, a time-out', async () => {
    const gw = await gateway({ routing: { retries: 3, retry_backoff_ms: 10 }, cloudTimeouts: { first_byte_ms: 300 } });
    for (const status of [401, 404]) {
      await cloud.clear();
      await cloud.setMode({ status });
      const res = await chat(gw.base, chatBody(COMPLEX));
      assert.equal(res.headers['x-tiergate-backend'], 'local', `HTTP ${status}`);
      assert.equal((await cloud.requests()).length, 1, `HTTP ${status} was retried`);
    }
    await cloud.clear();
    await cloud.setMode({ status: 400 });
    const bad = await chat(gw.base, chatBody(COMPLEX));
    assert.equal(bad.status, 400);
    assertErrorBody(bad.json);
    assert.equal((await cloud.requests()).length, 1, 'a client error was retried');
    assert.equal((await device.requests()).length, 2, 'a client error went to another tier');
    await cloud.clear();
    await cloud.setMode({ delay_headers_ms: 2000 });
    const slow = await chat(gw.base, chatBody(COMPLEX));
    assert.equal(slow.headers['x-tiergate-backend'], 'local');
    assert.equal((await cloud.requests()).length, 1, 'a first-byte time-out was retried');
    await assertCleanStop(gw);
  });

  it("a 429's Retry-After is obeyed, and keeps other requests away meanwhile", async () => {
    // fakellm's 429 says Retry-After: 1
    const gw = await gateway({ routing: { retries: 1, max_retry_after_ms: 2000 } });
    await cloud.setMode({ status: 429 });
    const { res, ms } = await timed(chat(gw.base, chatBody(COMPLEX)));
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-tiergate-backend'], 'local');
    assert.equal((await cloud.requests()).length, 2, 'the 429 was not retried');
    assert.ok(ms >= 950, `retried after ${ms} ms, before Retry-After: 1 ran out`);
    await assertCleanStop(gw);
  });

  it('a Retry-After longer than max_retry_after_ms fails over at once and holds the backend off', async () => {
    const gw = await gateway({ routing: { retries: 1, max_retry_after_ms: 500 } });
    await cloud.setMode({ status: 429 });
    const { res, ms } = await timed(chat(gw.base, chatBody(COMPLEX)));
    assert.equal(res.headers['x-tiergate-backend'], 'local');
    assert.equal(res.headers['x-tiergate-reason'], 'fallback');
    assert.equal((await cloud.requests()).length, 1);
    assert.ok(ms < 500, `fail-over took ${ms} ms`);
    // within the second the cloud asked for, nobody is sent there
    const next = await chat(gw.base, chatBody(COMPLEX));
    assert.equal(next.headers['x-tiergate-backend'], 'local');
    assert.equal(next.headers['x-tiergate-reason'], 'offline');
    assert.equal((await cloud.requests()).length, 1, 'the held-off cloud was called');
    await sleep(1100);
    await cloud.setMode({});
    const later = await chat(gw.base, chatBody(COMPLEX));
    assert.equal(later.headers['x-tiergate-backend'], 'bigcloud', 'the hold-off did not end');
    await assertCleanStop(gw);
  });
});

describe('one deadline per request', () => {
  it('retries and fallbacks stop at the deadline: 504 in time, never later', async () => {
    const gw = await gateway({
      routing: { retries: 5, retry_backoff_ms: 200, deadline_ms: 1200 },
      circuit: { failures_to_open: 100, min_requests: 1000 },
    });
    await cloud.setMode({ status: 503 });
    await device.setMode({ status: 503 });
    const { res, ms } = await timed(chat(gw.base, chatBody(COMPLEX)));
    assert.ok([502, 503, 504].includes(res.status), `status ${res.status}`);
    assertErrorBody(res.json);
    assert.ok(ms < 1200 + 300, `the request outlived its deadline: ${ms} ms`);
    await cloud.setMode({ delay_headers_ms: 5000 });
    await device.setMode({ delay_headers_ms: 5000 });
    const t = await timed(chat(gw.base, chatBody(COMPLEX)));
    assert.equal(t.res.status, 504, t.res.text);
    assert.equal(t.res.json.error.code, 'upstream_timeout');
    assert.ok(t.ms >= 1100 && t.ms < 1200 + 300, `deadline 1200 ms, took ${t.ms} ms`);
    await assertCleanStop(gw);
  });

  it('X-Tiergate-Deadline-Ms shortens the deadline, cannot extend it, and is validated', async () => {
    const gw = await gateway({ routing: { deadline_ms: 5000 } });
    await cloud.setMode({ delay_headers_ms: 5000 });
    await device.setMode({ delay_headers_ms: 5000 });
    const { res, ms } = await timed(chat(gw.base, chatBody(COMPLEX), { headers: { 'X-Tiergate-Deadline-Ms': '600' } }));
    assert.equal(res.status, 504);
    assert.ok(ms >= 550 && ms < 900, `deadline 600 ms, took ${ms} ms`);
    for (const v of ['0', '-5', 'soon', '6000', '1.5']) {
      const r = await chat(gw.base, chatBody(SIMPLE), { headers: { 'X-Tiergate-Deadline-Ms': v } });
      assert.equal(r.status, 400, `X-Tiergate-Deadline-Ms: ${v}`);
      assert.equal(r.json.error.code, 'invalid_header');
      assert.ok(r.json.error.message.includes('X-Tiergate-Deadline-Ms'));
    }
    const bad = await chat(gw.base, chatBody(SIMPLE), { headers: { 'X-Tiergate-Max-First-Byte-Ms': 'fast' } });
    assert.equal(bad.status, 400);
    await assertCleanStop(gw);
  });
});

describe('circuit breakers', () => {
  it('opens after consecutive failures, skips the backend at once, and lets one trial through after the cool-down', async () => {
    // no probes during the case: only requests and the cool-down move the circuit
    const gw = await gateway({ routing: { retries: 0 }, circuit: { failures_to_open: 3, cooldown_ms: 400 } });
    await cloud.setMode({ status: 500 });
    for (let i = 0; i < 3; i++) {
      const r = await chat(gw.base, chatBody(`${COMPLEX} ${i}`));
      assert.equal(r.headers['x-tiergate-reason'], 'fallback');
    }
    assert.equal((await cloud.requests()).length, 3);
    const { res, ms } = await timed(chat(gw.base, chatBody(COMPLEX)));
    assert.equal(res.headers['x-tiergate-reason'], 'offline');
    assert.equal(res.headers['x-tiergate-backend'], 'local');
    assert.equal((await cloud.requests()).length, 3, 'an open circuit still let a request through');
    assert.ok(ms < 200, `skipping an open circuit took ${ms} ms`);
    const ready = await request(gw.base, { path: '/readyz' });
    const entry = ready.json.backends.find((b) => b.name === 'bigcloud');
    assert.equal(entry.circuit, 'open');
    assert.match(entry.reason, /3 consecutive failures: HTTP 500/);
    let lines = circuitLines(gw);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.deepEqual([lines[0].backend, lines[0].from, lines[0].to], ['bigcloud', 'closed', 'open']);
    assert.equal(lines[0].level, 'warn');

    // cool-down over, still broken: one trial, which fails and doubles the cool-down
    await sleep(450);
    assert.equal((await chat(gw.base, chatBody(COMPLEX))).headers['x-tiergate-backend'], 'local');
    assert.equal((await cloud.requests()).length, 4, 'no trial after the cool-down');
    assert.equal((await chat(gw.base, chatBody(COMPLEX))).headers['x-tiergate-reason'], 'offline');
    await sleep(450);
    assert.equal((await chat(gw.base, chatBody(COMPLEX))).headers['x-tiergate-reason'], 'offline',
      'the cool-down did not double after a failed trial');
    assert.equal((await cloud.requests()).length, 4);

    // healed: after the doubled cool-down the trial succeeds and the circuit closes
    await cloud.setMode({});
    await sleep(400);
    const back = await chat(gw.base, chatBody(COMPLEX));
    assert.equal(back.headers['x-tiergate-backend'], 'bigcloud');
    assert.equal(back.headers['x-tiergate-reason'], 'complexity');
    // the log line may reach the pipe a moment after the response
    await waitFor(() => circuitLines(gw).length >= 5, { timeoutMs: 2000, what: 'five circuit changes logged' });
    lines = circuitLines(gw);
    assert.deepEqual(lines.map((l) => `${l.from}>${l.to}`),
      ['closed>open', 'open>half_open', 'half_open>open', 'open>half_open', 'half_open>closed']);
    assert.deepEqual(lines.map((l) => l.cause.split(':')[0]),
      ['3 consecutive failures', 'cool-down over', 'trial request failed', 'cool-down over', 'trial request succeeded']);
    await assertCleanStop(gw);
  });

  it('a failed probe opens the circuit before any user waits; a good probe brings traffic back', async () => {
    const interval = 300;
    const gw = await gateway({ health: { probe_interval_ms: interval }, circuit: { cooldown_ms: 60000 } });
    await cloud.setMode({ health_status: 503, delay_headers_ms: 5000 });
    await waitFor(async () => circuitLines(gw).length >= 1, { timeoutMs: 2000, what: 'circuit opened by a probe' });
    const line = circuitLines(gw)[0];
    assert.equal(line.to, 'open');
    assert.match(line.cause, /^probe failed: HTTP 503/);
    await cloud.clear();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      timed(chat(gw.base, chatBody(`${COMPLEX} #${i}`)))));
    for (const { res, ms } of results) {
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-tiergate-reason'], 'offline');
      assert.ok(ms < 500, `${ms} ms`);
    }
    assert.equal((await cloud.requests()).length, 0);

    // the cloud recovers: within about one probe interval, not the 60 s cool-down
    await cloud.setMode({});
    const healed = Date.now();
    await waitFor(async () => circuitLines(gw).some((l) => l.to === 'half_open'),
      { timeoutMs: 3000, intervalMs: 20, what: 'half_open after a good probe' });
    assert.ok(Date.now() - healed < 2 * interval + 200, `back after ${Date.now() - healed} ms`);
    const back = await chat(gw.base, chatBody(COMPLEX));
    assert.equal(back.headers['x-tiergate-backend'], 'bigcloud');
    await waitFor(() => circuitLines(gw).length >= 3, { timeoutMs: 2000, what: 'three circuit changes logged' });
    assert.deepEqual(circuitLines(gw).map((l) => `${l.from}>${l.to}:${l.cause.split(':')[0]}`),
      ['closed>open:probe failed', 'open>half_open:probe succeeded', 'half_open>closed:trial request succeeded']);
    await assertCleanStop(gw);
  });

  it('every circuit open: an immediate 503 with Retry-After', async () => {
    await fresh();
    const gw = await startGateway(makeConfig({
      device: device.url, health: { probe_interval_ms: 60000 }, extra: { circuit: { failures_to_open: 1, cooldown_ms: 30000 } },
      routing: { retries: 0 },
    }));
    await waitProbes([device]);
    await device.setMode({ status: 500 });
    assert.equal((await chat(gw.base, chatBody(SIMPLE))).status, 502);
    const { res, ms } = await timed(chat(gw.base, chatBody(SIMPLE)));
    assert.equal(res.status, 503);
    assertErrorBody(res.json);
    assert.equal(res.json.error.code, 'backend_unavailable');
    const after = Number(res.headers['retry-after']);
    assert.ok(after >= 29 && after <= 30, `Retry-After: ${res.headers['retry-after']}`);
    assert.ok(ms < 100, `${ms} ms`);
    assert.equal((await device.requests()).length, 1);
    await assertCleanStop(gw);
  });
});

describe('network awareness', () => {
  it('a cloud slower than the first-byte budget gives complex requests to the device (slow_network)', async () => {
    const gw = await gateway({ routing: { max_first_byte_ms: 2000 } });
    await cloud.setMode({ delay_headers_ms: 700 });
    const first = await sse(gw.base, chatBody(COMPLEX, { stream: true }));
    assert.equal(first.headers['x-tiergate-backend'], 'bigcloud');
    // the operator's budget (2 s) is met; a client that wants 150 ms is not
    const relaxed = await request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody(COMPLEX) });
    assert.equal(relaxed.json.reason, 'complexity');
    const est = relaxed.json.candidates.find((c) => c.backend === 'bigcloud').est_first_byte_ms;
    assert.ok(est > 150 && est < 2000, `estimate ${est} ms`);
    const hdr = { 'X-Tiergate-Max-First-Byte-Ms': '150' };
    const route = await request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody(COMPLEX), headers: hdr });
    assert.equal(route.json.reason, 'slow_network');
    assert.equal(route.json.tier, 'device');
    const { res, ms } = await timed(sse(gw.base, chatBody(COMPLEX, { stream: true }), { headers: hdr }));
    assert.equal(res.headers['x-tiergate-reason'], 'slow_network');
    assert.equal(res.headers['x-tiergate-backend'], 'local');
    assertSseWire(res.raw, { done: true });
    assert.equal(streamedContent(res.events), device.answer(COMPLEX));
    assert.ok(ms < 500, `${ms} ms`);
    // a client that names the cloud still gets it
    const forced = await chat(gw.base, chatBody(COMPLEX, { model: 'cloud' }), { headers: hdr });
    assert.equal(forced.headers['x-tiergate-backend'], 'bigcloud');
    assert.equal(forced.headers['x-tiergate-reason'], 'forced');
    await assertCleanStop(gw);
  });

  it('the estimate recovers from probes when the network does', async () => {
    // two 900 ms streams lift the estimate to about 460 ms; each fast probe
    // (every 1 s) takes 30 % off it, so it falls under 250 ms after two
    const gw = await gateway({ health: { probe_interval_ms: 1000 }, routing: { max_first_byte_ms: 250 } });
    await cloud.setMode({ delay_headers_ms: 900 });
    for (let i = 0; i < 2; i++) await sse(gw.base, chatBody(`${COMPLEX} ${i}`, { stream: true }));
    const slow = await request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody(COMPLEX) });
    assert.equal(slow.json.reason, 'slow_network', JSON.stringify(slow.json.candidates));
    await cloud.setMode({});
    await waitFor(async () => {
      const r = await request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody(COMPLEX) });
      return r.json.reason === 'complexity';
    }, { timeoutMs: 4000, what: 'the cloud estimate back under the budget' });
    const back = await request(gw.base, { path: '/readyz' });
    assert.ok(back.json.backends.find((b) => b.name === 'bigcloud').est_first_byte_ms <= 250);
    await assertCleanStop(gw);
  });
});

describe('hedging', () => {
  for (const stream of [false, true]) {
    it(`${stream ? 'stream' : 'plain'}: after hedge_after_ms without a byte the next tier starts; the first to answer wins`, async () => {
      const gw = await gateway({ routing: { hedge_after_ms: 250 } });
      await cloud.setMode({ delay_headers_ms: 4000 });
      const closedBefore = (await cloud.stats()).client_closed;
      const body = chatBody(COMPLEX, { stream });
      const { res, ms } = await timed(stream ? sse(gw.base, body) : chat(gw.base, body));
      assert.equal(res.status, 200);
      assertTieringHeaders(res.headers);
      assert.equal(res.headers['x-tiergate-reason'], 'hedge');
      assert.equal(res.headers['x-tiergate-backend'], 'local');
      if (stream) assert.equal(streamedContent(res.events), device.answer(COMPLEX));
      else assert.equal(res.json.choices[0].message.content, device.answer(COMPLEX));
      assert.ok(ms >= 240 && ms < 1500, `${ms} ms`);
      // the losing cloud transfer was cancelled, not left to run
      await waitFor(async () => (await cloud.stats()).client_closed > closedBefore, { timeoutMs: 2000, what: 'cloud transfer cancelled' });
      await assertCleanStop(gw);
    });
  }

  it('a chosen tier that answers before hedge_after_ms is not hedged; hedging is off by default', async () => {
    let gw = await gateway({ routing: { hedge_after_ms: 1000 } });
    await cloud.setMode({ delay_headers_ms: 300 });
    let res = await chat(gw.base, chatBody(COMPLEX));
    assert.equal(res.headers['x-tiergate-backend'], 'bigcloud');
    assert.equal(res.headers['x-tiergate-reason'], 'complexity');
    assert.equal((await device.requests()).length, 0);
    await assertCleanStop(gw);
    gw = await gateway();
    await cloud.setMode({ delay_headers_ms: 1500 });
    res = await chat(gw.base, chatBody(COMPLEX));
    assert.equal(res.headers['x-tiergate-backend'], 'bigcloud');
    assert.equal((await device.requests()).length, 0, 'hedged although hedge_after_ms is 0');
    await assertCleanStop(gw);
  });

  it('the hedge failing leaves the chosen tier to answer', async () => {
    const gw = await gateway({ routing: { hedge_after_ms: 200, retries: 0 } });
    await cloud.setMode({ delay_headers_ms: 800 });
    await device.setMode({ status: 500 });
    const res = await chat(gw.base, chatBody(COMPLEX));
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-tiergate-backend'], 'bigcloud');
    assert.equal((await device.requests()).length, 1);
    await assertCleanStop(gw);
  });
});

describe('client errors from a backend', () => {
  async function gatewayWith(contexts) {
    await fresh();
    const cfg = makeConfig({ device: device.url, cloud: cloud.url, health: { probe_interval_ms: 60000 } });
    cfg.backends.forEach((b, i) => { if (contexts[i]) b.context_tokens = contexts[i]; });
    const gw = await startGateway(cfg);
    await waitProbes([device, cloud]);
    return gw;
  }

  for (const style of ['openai', 'llama']) {
    it(`context length exceeded on the device (${style} shape) goes to the tier with a larger context`, async () => {
      const gw = await gatewayWith([4096, 128000]);
      await device.setMode({ status: 400, error_code: 'context_length', error_style: style });
      for (const stream of [false, true]) {
        const body = chatBody(SIMPLE, { stream });
        const res = stream ? await sse(gw.base, body) : await chat(gw.base, body);
        assert.equal(res.status, 200, res.text ?? res.raw);
        assert.equal(res.headers['x-tiergate-backend'], 'bigcloud');
        assert.equal(res.headers['x-tiergate-reason'], 'fallback');
      }
      assert.equal((await device.requests()).length, 2, 'the context-length error was retried on the device');
      await assertCleanStop(gw);
    });
  }

  it('context length exceeded with no larger context: the 400, normalised; a larger context wins whatever the tier', async () => {
    // the cloud's context is the smaller one here
    const gw = await gatewayWith([8192, 4096]);
    await device.setMode({ status: 400, error_code: 'context_length', error_style: 'llama' });
    const res = await chat(gw.base, chatBody(SIMPLE));
    assert.equal(res.status, 400);
    assertErrorBody(res.json);
    assert.equal(res.json.error.code, 'context_length_exceeded');
    assert.equal(res.json.error.type, 'invalid_request_error');
    assert.equal((await cloud.requests()).length, 0);
    // the other way round, the device's larger context is the way out
    await device.setMode({});
    await device.clear();
    await cloud.setMode({ status: 400, error_code: 'context_length' });
    const down = await chat(gw.base, chatBody(COMPLEX));
    assert.equal(down.status, 200);
    assert.equal(down.headers['x-tiergate-backend'], 'local');
    await assertCleanStop(gw);

    // contexts unknown: only a larger tier counts, and from the cloud there is none
    const plain = await gatewayWith([]);
    await cloud.setMode({ status: 400, error_code: 'context_length' });
    const big = await chat(plain.base, chatBody(COMPLEX));
    assert.equal(big.status, 400);
    assert.equal(big.json.error.code, 'context_length_exceeded');
    assert.match(big.json.error.message, /maximum context length/);
    assert.equal((await device.requests()).length, 0, 'a smaller tier was asked');
    await assertCleanStop(plain);
  });

  it("a content-policy refusal reaches the client with the provider's reason, and no other tier is asked", async () => {
    const gw = await gatewayWith([]);
    await cloud.setMode({ status: 400, error_code: 'content_filter' });
    const res = await chat(gw.base, chatBody(COMPLEX));
    assert.equal(res.status, 400);
    assertErrorBody(res.json);
    assert.equal(res.json.error.code, 'content_filter');
    assert.match(res.json.error.message, /bigcloud: The response was filtered due to the prompt triggering/);
    assert.equal((await cloud.requests()).length, 1);
    assert.equal((await device.requests()).length, 0);
    await assertCleanStop(gw);
  });
});

describe('stream ends', () => {
  it('a stream that has its finish_reason but neither [DONE] nor a close ends promptly and normally', async () => {
    const gw = await gateway({ cloudTimeouts: { idle_ms: 20000 } });
    await cloud.setMode({ linger: true });
    const { res, ms } = await timed(sse(gw.base, chatBody(COMPLEX, { stream: true, stream_options: { include_usage: true } })));
    assert.equal(res.status, 200);
    assertSseWire(res.raw, { done: true });
    assert.equal(streamedContent(res.events), cloud.answer(COMPLEX));
    assert.ok(res.events.some((e) => e.json && e.json.usage && e.json.choices.length === 0), 'the usage chunk was lost');
    assert.ok(ms < 2000, `took ${ms} ms: the idle limit (20 s) decided, not the finish`);
    // the backend was fine: its circuit is closed and the next request goes there
    const next = await chat(gw.base, chatBody(COMPLEX));
    assert.equal(next.headers['x-tiergate-backend'], 'bigcloud');
    await assertCleanStop(gw);
  });
});
