// Fallback before the first byte: when the chosen backend fails before anything
// has reached the client, the next tier answers (reason "fallback"); a backend
// known to be down is skipped up front (reason "offline"); when nothing can
// answer, a 5xx JSON error names every backend tried and why.  Each case runs
// its own gateway, so the passive health of one case cannot leak into the next.

import { describe, it, before, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startFake, startGateway, makeConfig, chat, request, sse, chatBody, streamedContent,
  assertTieringHeaders, assertErrorBody, assertSseWire, unusedPort, waitFor, sleep,
} from './harness.mjs';

const SIMPLE = 'open the sunroof please';
const COMPLEX = 'Prove that there are infinitely many primes, step by step';
const BOUND_MS = 3000; // cloud first_byte_ms is 500: the device must answer well within this

let device;
let cloud;

// Cloud: short first-byte time-out.  Probes only at start (interval 60 s), so
// the only thing that changes a backend's health during a case is the case.
// Retries on the same backend are off: this file is about moving on to the
// next tier; resilience.test.mjs covers retries.
function config(over = {}) {
  return makeConfig({
    device: device.url,
    cloud: cloud.url,
    cloudTimeouts: { connect_ms: 200, first_byte_ms: 500, idle_ms: 1000, total_ms: 10000 },
    health: { probe_interval_ms: 60000 },
    ...over,
    routing: { retries: 0, ...over.routing },
  });
}

/** Starts a gateway and waits until its first probe of each fake was answered. */
async function gatewayProbed(cfg, fakes = [device, cloud]) {
  const base = await Promise.all(fakes.map(async (f) => (await f.stats()).probes));
  const gw = await startGateway(cfg);
  for (let i = 0; i < fakes.length; i++) {
    await waitFor(async () => (await fakes[i].stats()).probes > base[i], { what: `first probe of ${fakes[i].label}` });
  }
  await sleep(100);
  return gw;
}

function assertFallback(res, fake, text, { tier = 'device', backend = 'local', reason = 'fallback' } = {}) {
  assert.equal(res.status, 200, `status ${res.status}: ${res.text ?? res.raw}`);
  assertTieringHeaders(res.headers);
  assert.equal(res.headers['x-tiergate-reason'], reason, 'x-tiergate-reason');
  assert.equal(res.headers['x-tiergate-tier'], tier, 'x-tiergate-tier');
  assert.equal(res.headers['x-tiergate-backend'], backend, 'x-tiergate-backend');
  if (res.json) {
    assert.equal(res.json.model, fake.model);
    assert.equal(res.json.choices[0].message.content, fake.answer(text));
  } else {
    assertSseWire(res.raw, { done: true });
    assert.equal(streamedContent(res.events), fake.answer(text));
    for (const e of res.events) if (e.json) assert.equal(e.json.model, fake.model);
  }
}

async function timed(p) {
  const t0 = Date.now();
  const res = await p;
  return { res, ms: Date.now() - t0 };
}

describe('fallback', () => {
  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'device' });
    cloud = await startFake({ model: 'big-model', label: 'cloud' });
  });

  afterEach(async () => {
    await device.setMode({});
    await cloud.setMode({});
    await device.clear();
    await cloud.clear();
  });

  it('cloud port refusing connections (cloud was up at the last probe): device answers', async () => {
    const doomed = await startFake({ model: 'big-model', label: 'doomed' });
    const gw = await gatewayProbed(makeConfig({
      device: device.url, cloud: doomed.url, health: { probe_interval_ms: 60000 },
      cloudTimeouts: { connect_ms: 200, first_byte_ms: 500, idle_ms: 1000, total_ms: 10000 },
    }), [device, doomed]);
    await doomed.stop(); // now nothing listens on its port
    const { res, ms } = await timed(chat(gw.base, chatBody(COMPLEX)));
    assertFallback(res, device, COMPLEX);
    assert.ok(ms < BOUND_MS, `fallback after a refused connection took ${ms} ms`);
    await gw.stop();
  });

  it('cloud delaying its headers past first_byte_ms: device answers', async () => {
    const gw = await gatewayProbed(config());
    await cloud.setMode({ delay_headers_ms: 10000 });
    const { res, ms } = await timed(chat(gw.base, chatBody(COMPLEX)));
    assertFallback(res, device, COMPLEX);
    assert.ok(ms < BOUND_MS, `fallback after a first-byte time-out took ${ms} ms`);
    assert.equal((await cloud.requests()).length, 1, 'the cloud was not tried first');
    await gw.stop();
  });

  it('cloud hanging (never answers): device answers, forced model "cloud" too', async () => {
    const gw = await gatewayProbed(config());
    await cloud.setMode({ hang: true });
    const { res, ms } = await timed(chat(gw.base, chatBody(SIMPLE, { model: 'cloud' })));
    assertFallback(res, device, SIMPLE);
    assert.ok(ms < BOUND_MS, `fallback from a hanging cloud took ${ms} ms`);
    await gw.stop();
  });

  it('stream: cloud sends headers but no chunk before first_byte_ms: device streams', async () => {
    const gw = await gatewayProbed(config());
    await cloud.setMode({ delay_first_chunk_ms: 10000 });
    const { res, ms } = await timed(sse(gw.base, chatBody(COMPLEX, { stream: true })));
    assertFallback(res, device, COMPLEX);
    assert.ok(ms < BOUND_MS, `stream fallback took ${ms} ms`);
    await gw.stop();
  });

  it('50 concurrent requests with the cloud hanging all get the device in time', async () => {
    const gw = await gatewayProbed(config());
    await cloud.setMode({ delay_headers_ms: 10000 });
    const texts = Array.from({ length: 50 }, (_, i) => `${COMPLEX} #${i}`);
    const t0 = Date.now();
    const results = await Promise.all(texts.map((t, i) => (i % 2
      ? sse(gw.base, chatBody(t, { stream: true }), { timeoutMs: 10000 })
      : chat(gw.base, chatBody(t), { timeoutMs: 10000 }))));
    const ms = Date.now() - t0;
    results.forEach((res, i) => {
      assert.ok(['fallback', 'offline'].includes(res.headers['x-tiergate-reason']),
        `#${i}: reason ${res.headers['x-tiergate-reason']}`);
      assertFallback(res, device, texts[i], { reason: res.headers['x-tiergate-reason'] });
    });
    assert.ok(ms < 4000, `50 fallbacks took ${ms} ms`);
    await gw.stop();
  });

  for (const status of [500, 503, 429]) {
    it(`cloud answering ${status}: device answers`, async () => {
      const gw = await gatewayProbed(config());
      await cloud.setMode({ status });
      const { res, ms } = await timed(chat(gw.base, chatBody(COMPLEX)));
      assertFallback(res, device, COMPLEX);
      assert.ok(ms < BOUND_MS, `fallback after ${status} took ${ms} ms`);
      assert.equal((await cloud.requests()).length, 1, 'the cloud was not tried (once) first');
      await gw.stop();
    });
  }

  it('stream: cloud answering 503 in llama.cpp style: device streams', async () => {
    const gw = await gatewayProbed(config());
    await cloud.setMode({ status: 503, error_style: 'llama' });
    const { res, ms } = await timed(sse(gw.base, chatBody(COMPLEX, { stream: true })));
    assertFallback(res, device, COMPLEX);
    assert.ok(ms < BOUND_MS);
    await gw.stop();
  });

  it('stream: cloud sends 200 then cuts the connection before any chunk: device streams', async () => {
    const gw = await gatewayProbed(config());
    await cloud.setMode({ cut_after: 0 });
    const { res, ms } = await timed(sse(gw.base, chatBody(COMPLEX, { stream: true })));
    assertFallback(res, device, COMPLEX);
    assert.ok(ms < BOUND_MS);
    await gw.stop();
  });

  it('non-stream: cloud sends 200 then cuts the connection: device answers', async () => {
    const gw = await gatewayProbed(config());
    await cloud.setMode({ cut_after: 0 });
    const { res, ms } = await timed(chat(gw.base, chatBody(COMPLEX)));
    assertFallback(res, device, COMPLEX);
    assert.ok(ms < BOUND_MS);
    await gw.stop();
  });

  it('non-stream: cloud answering 200 with a body that is not JSON: device answers', async () => {
    const gw = await gatewayProbed(config());
    await cloud.setMode({ bad_json: true });
    const { res, ms } = await timed(chat(gw.base, chatBody(COMPLEX)));
    assertFallback(res, device, COMPLEX);
    assert.ok(ms < BOUND_MS);
    await gw.stop();
  });

  it('the device failing on a simple request falls back to the cloud', async () => {
    const gw = await gatewayProbed(config());
    await device.setMode({ status: 503 });
    const res = await chat(gw.base, chatBody(SIMPLE));
    assertFallback(res, cloud, SIMPLE, { tier: 'cloud', backend: 'bigcloud' });
    assert.equal((await device.requests()).length, 1, 'the device was not tried first');
    await gw.stop();
  });

  it('offline: a cloud whose health probe fails is skipped up front', async () => {
    const sick = await startFake({ model: 'big-model', label: 'sick', mode: { health_status: 503 } });
    const gw = await startGateway(makeConfig({
      device: device.url, cloud: sick.url, health: { probe_interval_ms: 200 },
    }));
    await waitFor(async () => (await sick.stats()).probes >= 1, { what: 'a probe of the sick cloud' });
    await waitFor(async () => {
      const r = await request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody(COMPLEX) });
      return r.json && r.json.reason === 'offline';
    }, { timeoutMs: 3000, what: 'POST /v1/route to say "offline"' });
    const { res, ms } = await timed(chat(gw.base, chatBody(COMPLEX)));
    assertFallback(res, device, COMPLEX, { reason: 'offline' });
    assert.ok(ms < 1000, `a request with the cloud known down waited ${ms} ms`);
    assert.equal((await sick.requests()).length, 0, 'the cloud known to be down was still called');
    await gw.stop();
    await sick.stop();
  });

  it('offline: a cloud URL where nothing listens is skipped after the first probe', async () => {
    const port = await unusedPort();
    const gw = await startGateway(makeConfig({
      device: device.url, cloud: `http://127.0.0.1:${port}/v1`, health: { probe_interval_ms: 200 },
    }));
    await waitFor(async () => {
      const r = await request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody(COMPLEX) });
      return r.json && r.json.reason === 'offline';
    }, { timeoutMs: 3000, what: 'POST /v1/route to say "offline"' });
    for (const stream of [false, true]) {
      const { res, ms } = await timed(stream ? sse(gw.base, chatBody(COMPLEX, { stream })) : chat(gw.base, chatBody(COMPLEX)));
      assertFallback(res, device, COMPLEX, { reason: 'offline' });
      assert.ok(ms < 1000, `stream=${stream}: a request with the cloud known down waited ${ms} ms`);
    }
    // a forced cloud falls back the same way (routing.fallback is true)
    const forced = await chat(gw.base, chatBody(SIMPLE, { model: 'cloud' }));
    assertFallback(forced, device, SIMPLE, { reason: 'offline' });
    await gw.stop();
  });

  it('no tier can answer (both 503): 5xx JSON error naming each backend and why', async () => {
    const gw = await gatewayProbed(config());
    await device.setMode({ status: 503 });
    await cloud.setMode({ status: 503 });
    const { res, ms } = await timed(chat(gw.base, chatBody(COMPLEX)));
    assert.ok([502, 503, 504].includes(res.status), `status ${res.status}: ${res.text}`);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assertErrorBody(res.json);
    assertTieringHeaders(res.headers);
    const msg = res.json.error.message;
    assert.ok(msg.includes('local') && msg.includes('bigcloud'), `message does not name both backends: ${msg}`);
    assert.ok(msg.includes('503'), `message does not say why (503): ${msg}`);
    assert.ok(ms < BOUND_MS);
    await gw.stop();
  });

  it('no tier can answer, stream requested: the error is plain JSON with a 5xx status', async () => {
    const gw = await gatewayProbed(config());
    await device.setMode({ status: 500 });
    await cloud.setMode({ status: 500 });
    const res = await sse(gw.base, chatBody(COMPLEX, { stream: true }));
    assert.ok([502, 503, 504].includes(res.status), `status ${res.status}: ${res.raw}`);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const json = JSON.parse(res.raw);
    assertErrorBody(json);
    assert.ok(json.error.message.includes('local') && json.error.message.includes('bigcloud'), json.error.message);
    await gw.stop();
  });

  it('no tier can answer (both hang): a time-out error, not a hang', async () => {
    const gw = await gatewayProbed(config({ deviceTimeouts: { first_byte_ms: 500, idle_ms: 1000, total_ms: 10000 } }));
    await device.setMode({ hang: true });
    await cloud.setMode({ hang: true });
    const { res, ms } = await timed(chat(gw.base, chatBody(COMPLEX)));
    assert.ok([502, 503, 504].includes(res.status), `status ${res.status}: ${res.text}`);
    assertErrorBody(res.json);
    const msg = res.json.error.message;
    assert.ok(msg.includes('local') && msg.includes('bigcloud'), `message does not name both backends: ${msg}`);
    assert.match(msg, /time|no first byte|after \d+ ?ms/i, `message does not say it timed out: ${msg}`);
    assert.ok(ms < 4000, `took ${ms} ms with first_byte_ms 500 on both`);
    await gw.stop();
  });

  it('routing.deadline_ms bounds the whole request across fallbacks', async () => {
    const slow = { connect_ms: 200, first_byte_ms: 8000, idle_ms: 8000, total_ms: 20000 };
    const gw = await gatewayProbed(config({ deviceTimeouts: slow, cloudTimeouts: slow, routing: { deadline_ms: 1000 } }));
    await device.setMode({ hang: true });
    await cloud.setMode({ hang: true });
    const { res, ms } = await timed(chat(gw.base, chatBody(COMPLEX)));
    assert.ok([502, 503, 504].includes(res.status), `status ${res.status}: ${res.text}`);
    assertErrorBody(res.json);
    assert.ok(ms < 3000, `deadline_ms 1000 but the answer took ${ms} ms`);
    await gw.stop();
  });

  it('routing.fallback false: a failing forced cloud gives the error, no device answer', async () => {
    const gw = await gatewayProbed(config({ routing: { fallback: false } }));
    await cloud.setMode({ status: 500 });
    const res = await chat(gw.base, chatBody(SIMPLE, { model: 'cloud' }));
    assert.ok([502, 503, 504].includes(res.status), `status ${res.status}: ${res.text}`);
    assertErrorBody(res.json);
    assertTieringHeaders(res.headers);
    assert.ok(res.json.error.message.includes('bigcloud'), `message does not name the backend: ${res.json.error.message}`);
    assert.equal((await device.requests()).length, 0, 'the device was called although fallback is off');
    assert.equal((await cloud.requests()).length, 1);
    await gw.stop();
  });

  it('routing.fallback false: auto-routed complex request with the cloud refusing gives the error', async () => {
    const doomed = await startFake({ model: 'big-model', label: 'doomed' });
    const gw = await gatewayProbed(makeConfig({
      device: device.url, cloud: doomed.url, health: { probe_interval_ms: 60000 }, routing: { fallback: false },
    }), [device, doomed]);
    await doomed.stop();
    const { res, ms } = await timed(chat(gw.base, chatBody(COMPLEX)));
    assert.ok([502, 503, 504].includes(res.status), `status ${res.status}: ${res.text}`);
    assertErrorBody(res.json);
    assert.equal((await device.requests()).length, 0, 'the device was called although fallback is off');
    assert.ok(ms < BOUND_MS);
    await gw.stop();
  });
});
