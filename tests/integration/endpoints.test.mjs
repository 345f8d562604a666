// The other endpoints: /v1/models, /v1/models/{id}, /healthz, /readyz (also
// going 503 when every backend is down and back), and keep-alive connections.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startFake, startGateway, makeConfig, request, chat, sse, chatBody, streamedContent,
  assertTieringHeaders, assertErrorResponse, waitReadyz, assertCleanStop, unusedPort,
} from './harness.mjs';

let device;
let cloud;
let gw;

describe('endpoints', () => {
  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'device' });
    cloud = await startFake({ model: 'big-model', label: 'cloud' });
    gw = await startGateway(makeConfig({ device: device.url, cloud: cloud.url, health: { probe_interval_ms: 300 } }));
  });

  it('GET /v1/models lists auto, the tiers and the backends in the OpenAI list shape', async () => {
    const res = await request(gw.base, { path: '/v1/models' });
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assertTieringHeaders(res.headers);
    assert.equal(res.json.object, 'list');
    assert.ok(Array.isArray(res.json.data));
    const ids = res.json.data.map((m) => m.id);
    for (const id of ['auto', 'device', 'cloud', 'local', 'bigcloud']) {
      assert.ok(ids.includes(id), `model list lacks ${id}: ${ids}`);
    }
    assert.ok(!ids.includes('edge'), 'edge is listed but no edge backend is configured');
    assert.equal(new Set(ids).size, ids.length, 'duplicate ids');
    for (const m of res.json.data) {
      assert.equal(m.object, 'model');
      assert.equal(typeof m.created, 'number');
      assert.equal(typeof m.owned_by, 'string');
    }
  });

  it('GET /v1/models/{id} returns one model', async () => {
    for (const id of ['auto', 'cloud', 'local']) {
      const res = await request(gw.base, { path: `/v1/models/${id}` });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.id, id);
      assert.equal(res.json.object, 'model');
      assertTieringHeaders(res.headers);
    }
  });

  it('GET /v1/models/{unknown} is a 404 model_not_found', async () => {
    const res = await request(gw.base, { path: '/v1/models/gpt-9' });
    assertErrorResponse(res, 404, 'unknown model id');
    assert.equal(res.json.error.code, 'model_not_found');
  });

  it('GET /healthz is 200', async () => {
    const res = await request(gw.base, { path: '/healthz' });
    assert.equal(res.status, 200);
    assertTieringHeaders(res.headers);
  });

  it('GET /readyz is 200 with each backend\'s state', async () => {
    const res = await waitReadyz(gw, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.ok(res.json, `readyz body is not JSON: ${res.text}`);
    assert.ok(res.text.includes('local') && res.text.includes('bigcloud'), `readyz does not list both backends: ${res.text}`);
    assert.ok(/"up"/i.test(res.text), `readyz shows no backend "up": ${res.text}`);
  });

  it('keep-alive: several requests of different kinds on one connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const seen = [];
      const r1 = await request(gw.base, { path: '/v1/models', agent });
      seen.push(r1);
      const r2 = await chat(gw.base, chatBody('open the sunroof please', { model: 'device' }), { agent });
      seen.push(r2);
      assert.equal(r2.json.choices[0].message.content, device.answer('open the sunroof please'));
      const r3 = await sse(gw.base, chatBody('what time is it', { model: 'device', stream: true }), { agent });
      assert.equal(r3.status, 200);
      assert.equal(streamedContent(r3.events), device.answer('what time is it'));
      const r4 = await chat(gw.base, { model: 'nope', messages: [{ role: 'user', content: 'x' }] }, { agent });
      seen.push(r4);
      assert.equal(r4.status, 400);
      const r5 = await request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody('what time is it'), agent });
      seen.push(r5);
      const r6 = await chat(gw.base, chatBody('open the sunroof please', { model: 'cloud' }), { agent });
      seen.push(r6);
      assert.equal(r6.json.choices[0].message.content, cloud.answer('open the sunroof please'));
      for (const r of seen) assert.ok(r.status < 500, `status ${r.status}`);
      const ports = new Set(seen.map((r) => r.localPort));
      assert.equal(ports.size, 1, `requests used ${ports.size} connections, expected 1`);
      assert.ok(seen.slice(1).every((r) => r.reusedSocket), 'a later request did not reuse the socket');
    } finally {
      agent.destroy();
    }
  });

  it('GET /readyz is 503 when every backend is down, and 200 again when one is back', async () => {
    await device.setMode({ health_status: 503 });
    await cloud.setMode({ health_status: 503 });
    try {
      const t0 = Date.now();
      // probes every 300 ms: "down" must show within a few intervals
      const down = await waitReadyz(gw, 503, 1500);
      assert.ok(Date.now() - t0 < 1500);
      assert.match(String(down.headers['content-type']), /^application\/json/);
      assert.ok(down.text.includes('local') && down.text.includes('bigcloud'), `readyz does not list both backends: ${down.text}`);
      assert.ok(/"down"/i.test(down.text), `readyz does not say "down": ${down.text}`);
      assert.ok(!/"up"/i.test(down.text), `readyz still shows a backend "up": ${down.text}`);
      // liveness is not readiness
      assert.equal((await request(gw.base, { path: '/healthz' })).status, 200);
    } finally {
      await device.setMode({});
      await cloud.setMode({});
    }
    await waitReadyz(gw, 200, 3000);
  });

  it('GET /readyz is 503 when the only backend refuses connections', async () => {
    const port = await unusedPort();
    const g = await startGateway(makeConfig({ device: `http://127.0.0.1:${port}/v1`, health: { probe_interval_ms: 200 } }));
    const res = await waitReadyz(g, 503, 3000);
    assert.ok(res.text.includes('local'), res.text);
    await g.stop();
  });

  it('stops cleanly on SIGTERM', async () => {
    await assertCleanStop(gw);
  });
});
