// Languages: the language of a request is identified, shown by /v1/route and
// logged; a learned export language is scored like Chinese and English; a
// language the classifier did not learn follows routing.unknown_language
// (cloud by default, device, or score) with reason "unknown_language".

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFake, startGateway, makeConfig, chat, request, chatBody, waitFor } from './harness.mjs';

const GERMAN_SIMPLE = 'Mach bitte das Licht im Innenraum an';
const GERMAN_COMPLEX = 'Beweise ausführlich, dass die Quadratwurzel aus drei irrational ist, und erkläre jeden Schritt.';
const TURKISH_SIMPLE = 'Lütfen klimayı aç';
const TURKISH_COMPLEX = 'Sonsuz sayıda asal sayı olduğunu adım adım ispatla ve her adımı açıkla.';

/** The "lang" of the gateway's request log lines for chat requests, once
 * there are n of them (a line is written when its exchange is finished). */
async function loggedLangs(gw, n) {
  const lines = () => gw.stderrText().split('\n').filter((l) => l.includes('"msg":"request"'))
    .map((l) => JSON.parse(l)).filter((l) => l.path === '/v1/chat/completions');
  await waitFor(() => lines().length >= n, { what: `${n} request log lines` });
  return lines().map((l) => l.lang);
}

async function route(gw, text) {
  const res = await request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody(text) });
  assert.equal(res.status, 200, res.text);
  return res.json;
}

function assertRouted(res, tier, reason, text) {
  assert.equal(res.status, 200, `status ${res.status}: ${res.text}`);
  assert.equal(res.headers['x-tiergate-tier'], tier, `tier for ${JSON.stringify(text)}`);
  assert.equal(res.headers['x-tiergate-reason'], reason, `reason for ${JSON.stringify(text)}`);
}

describe('languages', () => {
  let device;
  let cloud;
  const gateways = [];

  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'device' });
    cloud = await startFake({ model: 'big-model', label: 'cloud' });
  });

  after(async () => {
    for (const g of gateways) await g.stop();
    await device.stop();
    await cloud.stop();
  });

  async function gateway(routing) {
    const g = await startGateway(makeConfig({ device: device.url, cloud: cloud.url, routing }));
    gateways.push(g);
    return g;
  }

  it('a learned language is scored: German commands stay on the device, German proofs go to the cloud', async () => {
    const gw = await gateway({});
    const d = await route(gw, GERMAN_SIMPLE);
    assert.equal(d.lang, 'de');
    assert.equal(d.lang_learned, true);
    assert.equal(d.unknown_language, 'cloud');
    assert.equal(d.tier, 'device');
    assert.equal(d.reason, 'complexity');
    assertRouted(await chat(gw.base, chatBody(GERMAN_SIMPLE)), 'device', 'complexity', GERMAN_SIMPLE);
    assertRouted(await chat(gw.base, chatBody(GERMAN_COMPLEX)), 'cloud', 'complexity', GERMAN_COMPLEX);
    assert.deepEqual(await loggedLangs(gw, 2), ['de', 'de']);
  });

  it('by default a language the model did not learn goes to the cloud, even a short command', async () => {
    const gw = await gateway({});
    const d = await route(gw, TURKISH_SIMPLE);
    assert.equal(d.lang, 'tr');
    assert.equal(d.lang_learned, false);
    assert.equal(d.tier, 'cloud');
    assert.equal(d.reason, 'unknown_language');
    assert.equal(typeof d.score, 'number');
    assertRouted(await chat(gw.base, chatBody(TURKISH_SIMPLE)), 'cloud', 'unknown_language', TURKISH_SIMPLE);
    assert.deepEqual(await loggedLangs(gw, 1), ['tr']);
    // A client that names a tier still gets it.
    const forced = await chat(gw.base, chatBody(TURKISH_SIMPLE), { headers: { 'X-Tiergate-Tier': 'device' } });
    assertRouted(forced, 'device', 'forced', TURKISH_SIMPLE);
  });

  it('"device" keeps an unknown language on the device, "score" scores it as before', async () => {
    const onDevice = await gateway({ unknown_language: 'device' });
    assertRouted(await chat(onDevice.base, chatBody(TURKISH_COMPLEX)), 'device', 'unknown_language', TURKISH_COMPLEX);
    const scored = await gateway({ unknown_language: 'score' });
    const d = await route(scored, TURKISH_COMPLEX);
    assert.equal(d.reason, 'complexity');
    assert.equal(d.tier, d.score >= 0.5 ? 'cloud' : 'device');
  });
});
