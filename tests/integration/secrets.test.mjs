// Secrets and header hygiene (issue 8): the cloud key goes to the cloud only,
// the client's Authorization and hop-by-hop headers go nowhere, and no secret
// (backend key or client key) appears in logs, responses, errors or --check.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  startFake, startGateway, runGateway, makeConfig, chat, request, chatBody, CLOUD_KEY, assertCleanStop,
} from './harness.mjs';

const CLIENT_KEY = 'tg-kiosk-3-5e1f0a9c7d2b4e68';
const OTHER_KEY = 'tg-car-77c1d2e3f4a5b6c7d8';
const ENV = { TEST_CLIENT_KEYS: `kiosk-3:${CLIENT_KEY}\ncar:${OTHER_KEY}` };
const SECRETS = [CLOUD_KEY, CLIENT_KEY, OTHER_KEY];
const HOSTILE_HEADERS = {
  Authorization: `Bearer ${CLIENT_KEY}`,
  Connection: 'keep-alive, X-Secret-Hop',
  'X-Secret-Hop': 'hop',
  'Keep-Alive': 'timeout=5',
  'Proxy-Authorization': 'Basic cHJveHk6c2VjcmV0',
  'Proxy-Connection': 'keep-alive',
  TE: 'trailers',
  Upgrade: 'websocket',
  Cookie: 'session=abc123',
  'X-Forwarded-For': '10.0.0.1',
};
const FORBIDDEN = ['connection', 'x-secret-hop', 'keep-alive', 'proxy-authorization', 'proxy-connection',
  'te', 'upgrade', 'cookie', 'x-forwarded-for'];

let device;
let cloud;
let gw;
const seen = [];

function config() {
  return makeConfig({ device: device.url, cloud: cloud.url, extra: { auth: { keys_env: 'TEST_CLIENT_KEYS' } } });
}

function assertNoSecret(text, where) {
  for (const s of SECRETS) assert.ok(!text.includes(s), `a secret (${s.slice(0, 6)}…) appears in ${where}`);
}

async function keep(res) {
  seen.push(JSON.stringify(res.headers) + res.text);
  return res;
}

describe('secrets and header hygiene', () => {
  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'device' });
    cloud = await startFake({ model: 'big-model', label: 'cloud' });
    gw = await startGateway(config(), ENV);
  });

  it('the device gets no Authorization and no client or hop-by-hop header', async () => {
    const res = await keep(await chat(gw.base, chatBody('turn on the lights'), { headers: HOSTILE_HEADERS }));
    assert.equal(res.status, 200, res.text);
    const [r] = await device.requests();
    const names = Object.keys(r.headers).map((h) => h.toLowerCase());
    assert.ok(!names.includes('authorization'), `device got Authorization: ${JSON.stringify(r.headers)}`);
    for (const h of FORBIDDEN) assert.ok(!names.includes(h), `device got ${h}: ${JSON.stringify(r.headers)}`);
    assertNoSecret(JSON.stringify(r), 'the device request');
  });

  it('the cloud gets its own key and nothing of the client', async () => {
    const res = await keep(await chat(gw.base, { ...chatBody('Prove there are infinitely many primes.'), model: 'cloud' },
      { headers: HOSTILE_HEADERS }));
    assert.equal(res.status, 200, res.text);
    const [r] = await cloud.requests();
    const h = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v]));
    assert.equal(h.authorization, `Bearer ${CLOUD_KEY}`);
    for (const f of FORBIDDEN) assert.ok(!(f in h), `cloud got ${f}: ${JSON.stringify(r.headers)}`);
    assert.ok(!JSON.stringify(r).includes(CLIENT_KEY), 'the client key reached the cloud');
  });

  it('no secret in any answer: errors, bad keys, failing backends, status endpoints', async () => {
    const good = { Authorization: `Bearer ${CLIENT_KEY}` };
    await keep(await chat(gw.base, chatBody('hi'), { headers: { Authorization: `Bearer ${CLIENT_KEY.slice(0, -2)}` } }));
    await keep(await chat(gw.base, chatBody('hi'), { headers: { Authorization: `Bearer ${CLOUD_KEY}` } }));
    await keep(await chat(gw.base, '{"model":', { headers: good }));
    await cloud.setMode({ status: 401 });
    await device.setMode({ status: 500 });
    try {
      const r = await keep(await chat(gw.base, { ...chatBody('hi'), model: 'cloud' }, { headers: good }));
      assert.ok(r.status >= 500, `failing backends gave ${r.status}`);
    } finally {
      await cloud.setMode({});
      await device.setMode({});
    }
    for (const p of ['/healthz', '/readyz', '/v1/models', '/v1/models/bigcloud']) {
      await keep(await request(gw.base, { path: p, headers: good }));
    }
    await keep(await chat(gw.base, chatBody('route me'), { path: '/v1/route', headers: good }));
    assertNoSecret(seen.join('\n'), 'a response');
  });

  it('no secret in the logs', async () => {
    await assertCleanStop(gw);
    assertNoSecret(gw.stderrText() + gw.stdoutText(), 'the log');
    assert.match(gw.stderrText(), /"client":"kiosk-3"/);
  });

  it('no secret in --check output, which lists key names only', async () => {
    const r = await runGateway(['--check', '--config', '{config}'], { config: config(),
      env: { ...ENV, TEST_CLOUD_KEY: CLOUD_KEY } });
    assert.equal(r.code, 0, r.stderr);
    assertNoSecret(r.stdout + r.stderr, '--check output');
    assert.deepEqual(JSON.parse(r.stdout).auth.keys, ['kiosk-3', 'car']);
  });

  it('no secret in a config error about a key', async () => {
    const r = await runGateway(['--check', '--config', '{config}'], { config: config(),
      env: { TEST_CLIENT_KEYS: `kiosk-3:${CLIENT_KEY},car:${CLIENT_KEY}`, TEST_CLOUD_KEY: CLOUD_KEY } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /has the same key as kiosk-3/);
    assertNoSecret(r.stdout + r.stderr, 'the config error');
  });

  it('--check warns loudly when auth is off or TLS verification is off', async () => {
    const cfg = makeConfig({ device: device.url });
    cfg.backends.push({ name: 'lab', tier: 'cloud', url: 'https://127.0.0.1:1/v1', model: 'm',
      tls: { insecure_skip_verify: true } });
    const r = await runGateway(['--check', '--config', '{config}'], { config: cfg });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /"level":"warn","msg":"client authentication is OFF/);
    assert.match(r.stderr, /"msg":"TLS verification is OFF[^\n]*"backend":"lab"/);
    assert.equal(JSON.parse(r.stdout).backends[1].tls.insecure_skip_verify, true);
  });
});
