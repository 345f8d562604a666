// The vehicle's link report (issue 15): PUT/GET/DELETE /v1/link with admin
// keys.  Offline skips the cloud at once (the cloud fake records no request
// and no connection), the report expires after for_ms, weak moves the cloud's
// requests to the device as slow_network, good assumes nothing, the report
// survives a reload, probes go on while it is in force, a stored cloud answer
// stands in (the answer cache's stale-if-error), and the endpoint refuses a
// missing, wrong or client key and a bad body.  Two fakes: device and cloud.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startFake, startGateway, makeConfig, chat, sse, request, chatBody, streamedContent, assertSseWire,
  assertErrorResponse, waitFor, waitProbes, scaled, assertCleanStop, unusedPort,
  metric as harnessMetric,
} from './harness.mjs';

const COMPLEX = 'Prove that there are infinitely many primes, step by step';
const KEY = 'sk-client-kiosk-0123456789abcdef';
const ADMIN = 'sk-admin-ops-0123456789abcdef';
const AUTH = { auth: { keys_env: 'TEST_KEYS', admin_keys_env: 'TEST_ADMIN' } };
const ENV = { TEST_KEYS: `kiosk:${KEY}`, TEST_ADMIN: `ops:${ADMIN}` };

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

/** A gateway with client and admin keys; probes at start only unless health says otherwise. */
async function gateway({ health = { probe_interval_ms: 60000 }, routing = {}, extra = {}, env = {} } = {}) {
  await device.setMode({});
  await cloud.setMode({});
  await device.clear();
  await cloud.clear();
  const gw = await startGateway(makeConfig({
    device: device.url, cloud: cloud.url, health, routing: { retries: 0, ...routing }, extra: { ...AUTH, ...extra },
  }), { ...ENV, ...env });
  await waitProbes([device, cloud]);
  return gw;
}

const link = (gw, method, body, key = ADMIN) => request(gw.base, {
  method, path: '/v1/link', body, headers: key ? { Authorization: `Bearer ${key}` } : {},
});
const ask = (gw, body, headers = {}) => chat(gw.base, body, { headers: { Authorization: `Bearer ${KEY}`, ...headers } });

function logLines(gw, msg) {
  return gw.stderrText().split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).map((l) => JSON.parse(l));
}

/** The log lines of msg once there are n of them (stderr arrives through a pipe, after the response). */
function waitLines(gw, msg, n = 1) {
  return waitFor(() => { const l = logLines(gw, msg); return l.length >= n && l; }, { what: `${n} "${msg}" log line(s)` });
}

const metric = (gw, name) => harnessMetric(gw, name, KEY);

describe('link report', () => {
  it('offline: edge and cloud are skipped at once, with no connection to the cloud', async () => {
    const gw = await gateway();
    // Without a report the complex request goes to the cloud.
    const before0 = await ask(gw, chatBody(COMPLEX));
    assert.equal(before0.headers['x-tiergate-tier'], 'cloud', before0.text);
    await cloud.clear();

    const put = await link(gw, 'PUT', { state: 'offline', for_ms: 60000, reason: 'tunnel ahead' });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.report.state, 'offline');
    assert.equal(put.json.report.reason, 'tunnel ahead');
    assert.equal(put.json.report.for_ms, 60000);
    assert.ok(put.json.report.remaining_ms > 0 && put.json.report.remaining_ms <= 60000);
    assert.ok(Math.abs(put.json.report.since - Date.now() / 1000) < 60);
    assert.deepEqual(put.json.backends.map((b) => [b.name, b.tier]), [['local', 'device'], ['bigcloud', 'cloud']]);
    for (const b of put.json.backends) {
      assert.equal(b.circuit, 'closed');
      assert.ok(b.est_connect_ms >= 0 && b.est_first_byte_ms >= 0);
    }

    const stats0 = await cloud.stats();
    // Complex, forced by model, forced by header, streamed: all from the device, reason offline.
    const viaScore = await ask(gw, chatBody(COMPLEX));
    const viaModel = await ask(gw, chatBody('hello', { model: 'cloud' }));
    const viaHeader = await ask(gw, chatBody('hello'), { 'X-Tiergate-Tier': 'cloud' });
    for (const r of [viaScore, viaModel, viaHeader]) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['x-tiergate-tier'], 'device');
      assert.equal(r.headers['x-tiergate-backend'], 'local');
      assert.equal(r.headers['x-tiergate-reason'], 'offline');
    }
    assert.equal(viaScore.json.choices[0].message.content, device.answer(COMPLEX));
    const streamed = await sse(gw.base, chatBody(COMPLEX, { stream: true }),
      { headers: { Authorization: `Bearer ${KEY}` } });
    assertSseWire(streamed.raw);
    assert.equal(streamed.headers['x-tiergate-reason'], 'offline');
    assert.equal(streamedContent(streamed.events), device.answer(COMPLEX));
    // /v1/route says the same, and lists no cloud candidate.
    const route = await request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody(COMPLEX),
      headers: { Authorization: `Bearer ${KEY}` } });
    assert.equal(route.json.reason, 'offline');
    assert.deepEqual(route.json.candidates.map((c) => c.backend), ['local']);

    // The cloud fake saw nothing: no request, no probe, no connection but
    // the two this test made to ask it (requests() and stats()).
    assert.deepEqual(await cloud.requests(), []);
    const stats1 = await cloud.stats();
    assert.equal(stats1.requests, stats0.requests);
    assert.equal(stats1.probes, stats0.probes);
    assert.equal(stats1.connections, stats0.connections + 2);

    // The request log keeps its reason; the report is logged without secrets.
    const lines = await waitFor(() => {
      const l = logLines(gw, 'request').filter((o) => o.request_id === viaModel.headers['x-request-id']);
      return l.length && l;
    }, { what: 'the request line' });
    assert.equal(lines.length, 1);
    assert.equal(lines[0].reason, 'offline');
    const reported = await waitLines(gw, 'link reported');
    assert.equal(reported.length, 1);
    assert.equal(reported[0].state, 'offline');
    assert.equal(reported[0].reason, 'tunnel ahead');
    const putLine = await waitFor(() => logLines(gw, 'request').find((o) => o.request_id === put.headers['x-request-id']),
      { what: "the PUT's request line" });
    assert.equal(putLine.link, 'offline');
    assert.equal(putLine.client, 'ops');
    assert.ok(!gw.stderrText().includes(ADMIN));
    // /readyz and /metrics show it.
    const ready = await request(gw.base, { path: '/readyz' });
    assert.equal(ready.json.link.state, 'offline');
    assert.equal(await metric(gw, 'tiergate_link_state{state="offline"}'), 1);
    assert.equal(await metric(gw, 'tiergate_link_state{state="none"}'), 0);
    assert.equal(await metric(gw, 'tiergate_link_reports_total{state="offline"}'), 1);

    // DELETE ends it: the cloud answers again.
    const del = await link(gw, 'DELETE');
    assert.equal(del.status, 200, del.text);
    assert.equal(del.json.report, null);
    assert.equal((await waitLines(gw, 'link report cleared')).length, 1);
    const after0 = await ask(gw, chatBody(COMPLEX));
    assert.equal(after0.headers['x-tiergate-tier'], 'cloud');
    const seen = await cloud.requests();
    assert.equal(seen.length, 1);
    assert.equal((await request(gw.base, { path: '/readyz' })).json.link, null);
    await assertCleanStop(gw);
  });

  it('the report expires after for_ms', async () => {
    const gw = await gateway();
    const forMs = scaled(600);
    const putAt = Date.now();
    const put = await link(gw, 'PUT', { state: 'offline', for_ms: forMs });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.report.reason, null);
    const during = await ask(gw, chatBody('hello', { model: 'cloud' }));
    assert.equal(during.headers['x-tiergate-reason'], 'offline');
    const got = await link(gw, 'GET');
    assert.equal(got.status, 200);
    assert.equal(got.json.report.state, 'offline');
    assert.ok(got.json.report.remaining_ms <= forMs);
    await waitFor(() => logLines(gw, 'link report expired').length === 1,
      { timeoutMs: forMs + scaled(3000), what: 'the expiry log line' });
    assert.ok(Date.now() - putAt >= forMs - 50, 'not before for_ms');
    assert.equal((await link(gw, 'GET')).json.report, null);
    const after0 = await ask(gw, chatBody('hello', { model: 'cloud' }));
    assert.equal(after0.headers['x-tiergate-tier'], 'cloud');
    assert.equal(after0.headers['x-tiergate-reason'], 'forced');
    assert.equal((await cloud.requests()).length, 1);
    await assertCleanStop(gw);
  });

  it('weak: the latency budget rule sends the cloud\'s requests to the device; good assumes nothing', async () => {
    const gw = await gateway({ routing: { max_first_byte_ms: 2000 } });
    assert.equal((await link(gw, 'PUT', { state: 'weak', for_ms: 60000 })).status, 200);
    const weak = await ask(gw, chatBody(COMPLEX));
    assert.equal(weak.headers['x-tiergate-tier'], 'device', weak.text);
    assert.equal(weak.headers['x-tiergate-reason'], 'slow_network');
    assert.deepEqual(await cloud.requests(), []);
    // A client that names the cloud gets it over a weak link.
    const forced = await ask(gw, chatBody('hello', { model: 'cloud' }));
    assert.equal(forced.headers['x-tiergate-tier'], 'cloud');
    assert.equal(forced.headers['x-tiergate-reason'], 'forced');
    // Good replaces weak and changes nothing the estimates say.
    const good = await link(gw, 'PUT', { state: 'good', for_ms: 60000, reason: 'wifi at the depot' });
    assert.equal(good.json.report.state, 'good');
    const ok = await ask(gw, chatBody(COMPLEX));
    assert.equal(ok.headers['x-tiergate-tier'], 'cloud');
    assert.equal(ok.headers['x-tiergate-reason'], 'complexity');
    assert.equal(await metric(gw, 'tiergate_link_reports_total{state="weak"}'), 1);
    assert.equal(await metric(gw, 'tiergate_link_reports_total{state="good"}'), 1);
    assert.equal(await metric(gw, 'tiergate_link_state{state="good"}'), 1);
    await assertCleanStop(gw);
  });

  it('only an admin key may report; without admin keys the endpoint does not exist', async () => {
    const gw = await gateway();
    const body = { state: 'offline', for_ms: 60000 };
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const none = await link(gw, method, method === 'PUT' ? body : undefined, null);
      assertErrorResponse(none, 401, `${method} without a key`);
      const wrong = await link(gw, method, method === 'PUT' ? body : undefined, 'sk-wrong-0123456789abcdef');
      assertErrorResponse(wrong, 401, `${method} with a wrong key`);
      const client = await link(gw, method, method === 'PUT' ? body : undefined, KEY);
      assertErrorResponse(client, 403, `${method} with a client key`);
      assert.equal(client.json.error.code, 'permission_denied');
    }
    // Nothing was set by the refused PUTs.
    assert.equal((await link(gw, 'GET')).json.report, null);
    assert.equal((await ask(gw, chatBody(COMPLEX))).headers['x-tiergate-tier'], 'cloud');
    // The admin key is no client key.
    assert.equal((await ask(gw, chatBody('hello'), { Authorization: `Bearer ${ADMIN}` })).status, 401);
    await assertCleanStop(gw);

    const open = await gateway({ extra: { auth: { keys_env: 'TEST_KEYS' } } });
    for (const method of ['GET', 'PUT', 'DELETE']) {
      assertErrorResponse(await link(open, method, method === 'PUT' ? body : undefined), 404, method);
    }
    assert.equal((await ask(open, chatBody(COMPLEX))).headers['x-tiergate-tier'], 'cloud');
    await assertCleanStop(open);
  });

  it('bad bodies get a 400 naming the field, and leave the report as it was', async () => {
    const gw = await gateway();
    assert.equal((await link(gw, 'PUT', { state: 'weak', for_ms: 60000 })).status, 200);
    const cases = [
      [{ for_ms: 1000 }, 'state'],
      [{ state: 'down', for_ms: 1000 }, 'state'],
      [{ state: 'offline' }, 'for_ms'],
      [{ state: 'offline', for_ms: 0 }, 'for_ms'],
      [{ state: 'offline', for_ms: 86400001 }, 'for_ms'],
      [{ state: 'offline', for_ms: 2.5 }, 'for_ms'],
      [{ state: 'offline', for_ms: '1000' }, 'for_ms'],
      [{ state: 'offline', for_ms: 1000, reason: 'x'.repeat(201) }, 'reason'],
      [{ state: 'offline', for_ms: 1000, reason: 7 }, 'reason'],
      [{ state: 'offline', for_ms: 1000, until: 5 }, 'until'],
    ];
    for (const [body, field] of cases) {
      const res = await link(gw, 'PUT', body);
      assertErrorResponse(res, 400, JSON.stringify(body));
      assert.equal(res.json.error.param, field, JSON.stringify(body));
    }
    for (const raw of ['', 'offline', '[]', '{"state":"offline","for_ms":1000']) {
      const res = await link(gw, 'PUT', Buffer.from(raw));
      assertErrorResponse(res, 400, raw);
      assert.equal(res.json.error.code, 'invalid_json', raw);
    }
    const still = await link(gw, 'GET');
    assert.equal(still.json.report.state, 'weak');
    assert.equal(still.json.report.for_ms, 60000);
    await waitLines(gw, 'link reported');
    assert.equal(logLines(gw, 'link reported').length, 1);
    await assertCleanStop(gw);
  });

  it('survives a reload, and probes go on updating the estimates while it is in force', async () => {
    const gw = await gateway({ health: { probe_interval_ms: 200 } });
    assert.equal((await link(gw, 'PUT', { state: 'offline', for_ms: 60000 })).status, 200);
    const probes0 = (await cloud.stats()).probes;
    await waitFor(async () => (await cloud.stats()).probes >= probes0 + 2, { what: 'two more cloud probes' });
    const before0 = gw.stderrText().split('\n').length;
    gw.proc.kill('SIGHUP');
    await waitFor(() => gw.stderrText().split('\n').slice(before0 - 1)
      .some((l) => l.includes('"msg":"configuration reloaded"')), { what: 'the reload' });
    const after0 = await link(gw, 'GET');
    assert.equal(after0.json.report.state, 'offline');
    const cloudView = after0.json.backends.find((b) => b.name === 'bigcloud');
    assert.equal(cloudView.state, 'up');
    assert.equal(cloudView.circuit, 'closed');
    const r = await ask(gw, chatBody(COMPLEX));
    assert.equal(r.headers['x-tiergate-reason'], 'offline');
    assert.equal((await cloud.requests()).length, 0);
    await assertCleanStop(gw);
  });

  it('offline with the device down: an immediate 503 that names the link, with a Retry-After that is not 0', async () => {
    await cloud.clear();
    const nowhere = `http://127.0.0.1:${await unusedPort()}/v1`;
    const gw = await startGateway(makeConfig({
      device: nowhere, cloud: cloud.url, health: { probe_interval_ms: 60000 }, extra: AUTH,
    }), ENV);
    await waitFor(async () => (await link(gw, 'GET')).json.backends.find((b) => b.name === 'local').circuit === 'open',
      { what: "the device's circuit open after its failed probe" });
    assert.equal((await link(gw, 'PUT', { state: 'offline', for_ms: 60000 })).status, 200);
    const res = await ask(gw, chatBody(COMPLEX));
    assertErrorResponse(res, 503);
    assert.match(res.json.error.message, /link offline/);
    assert.ok(Number(res.headers['retry-after']) >= 1, `Retry-After: ${res.headers['retry-after']}`);
    assert.deepEqual(await cloud.requests(), []);
    await assertCleanStop(gw);
  });

  it('a stored cloud answer stands in while the link is offline (answer cache, stale-if-error)', async () => {
    const gw = await gateway({ extra: { cache: { mode: 'offline', file: 'answers.cache' } } });
    const q = chatBody('Where is the left-luggage office in this station?', { model: 'cloud', temperature: 0 });
    const live = await ask(gw, q);
    assert.equal(live.json.choices[0].message.content, cloud.answer(q.messages[0].content));
    assert.equal((await link(gw, 'PUT', { state: 'offline', for_ms: 60000 })).status, 200);
    await cloud.clear();
    const stale = await ask(gw, q);
    assert.equal(stale.status, 200, stale.text);
    assert.equal(stale.headers['x-tiergate-cache'], 'stale');
    assert.equal(stale.json.choices[0].message.content, cloud.answer(q.messages[0].content));
    assert.deepEqual(await cloud.requests(), []);
    await assertCleanStop(gw);
  });
});
