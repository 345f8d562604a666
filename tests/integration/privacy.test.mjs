// Privacy: personal data stays on the device (local) or leaves only masked
// (redact).  The simulated cloud records every request it receives; the
// tests assert on those records: in redact mode no personal value reached
// it (its placeholders did) while the client sees the values restored, in
// JSON and in streams (one character per chunk, so every placeholder is
// split at every character boundary); in local mode no request reached it
// at all: not for a complex prompt, a forced model or header, a failing
// device (fallback), nor a slow one (hedging).  The gateway's log is
// searched for the values afterwards.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startFake, startGateway, makeConfig, chat, sse, request, streamedContent, assertSseWire,
  assertCleanStop, answer, chatBody,
} from './harness.mjs';

// A resident ID number with its ISO 7064 mod 11-2 check digit computed here.
function residentId(first17) {
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const s = [...first17].reduce((a, d, i) => a + Number(d) * w[i], 0);
  return first17 + '10X98765432'[s % 11];
}

const PHONE = '13812345678';
const EMAIL = 'zhang.san@example.com';
const ID = residentId('44030519880712345');
const PLATE = '粤B12345';
const VALUES = [PHONE, EMAIL, ID, PLATE];
const TEXT = `Please call ${PHONE}, mail ${EMAIL}; my ID is ${ID} and my car is ${PLATE}. Call ${PHONE} again.`;
const COMPLEX = `Prove step by step that there are infinitely many primes, then text the proof to ${PHONE}.`;

function assertNoValues(text, where) {
  for (const v of VALUES) assert.ok(!text.includes(v), `${where} contains the personal value ${v}`);
}

describe('privacy', () => {
  let device;
  let cloud;
  const gateways = [];

  before(async () => {
    device = await startFake({ label: 'device', model: 'small' });
    cloud = await startFake({ label: 'cloud', model: 'big' });
  });

  after(async () => {
    for (const gw of gateways) assertNoValues(gw.stderrText(), 'the gateway log');
    await device.stop();
    await cloud.stop();
  });

  async function gateway(mode, routing = {}) {
    await device.setMode({});
    await cloud.setMode({});
    await device.clear();
    await cloud.clear();
    const privacy = mode === undefined ? {} : { privacy: { mode } };
    const gw = await startGateway(makeConfig({
      device: device.url, cloud: cloud.url, routing, health: { probe_interval_ms: 60000 }, extra: privacy,
    }));
    gateways.push(gw);
    return gw;
  }

  describe('redact (the default)', () => {
    it('the cloud gets placeholders, the client gets the values back (JSON)', async () => {
      const gw = await gateway(undefined);
      const res = await chat(gw.base, chatBody(TEXT), { headers: { 'X-Tiergate-Tier': 'cloud' } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['x-tiergate-tier'], 'cloud');
      assert.equal(res.json.choices[0].message.content, answer('cloud', TEXT).slice(0, answer('cloud', TEXT).length));
      const got = await cloud.requests();
      assert.equal(got.length, 1);
      assertNoValues(got[0].body, 'the cloud request');
      const sent = got[0].json.messages[0].content;
      assert.equal(sent, 'Please call ⟨PHONE_1⟩, mail ⟨EMAIL_1⟩; my ID is ⟨CN_ID_1⟩ and my car is ⟨PLATE_1⟩. '
        + 'Call ⟨PHONE_1⟩ again.');
      await assertCleanStop(gw);
    });

    it('restores placeholders split across stream chunks, and leaves unknown ones', async () => {
      const gw = await gateway('redact');
      const reply = 'Calling ⟨PHONE_1⟩ and mailing ⟨EMAIL_1⟩ now; ⟨PHONE_9⟩ is unknown. Done ⟨PHONE_1';
      await cloud.setMode({ reply, chunks: 1000 });
      const res = await sse(gw.base, chatBody(TEXT, { model: 'cloud', stream: true }));
      assert.equal(res.status, 200, res.raw);
      assertSseWire(res.raw);
      assert.equal(streamedContent(res.events),
        `Calling ${PHONE} and mailing ${EMAIL} now; ⟨PHONE_9⟩ is unknown. Done ⟨PHONE_1`);
      assertNoValues((await cloud.requests()).map((r) => r.body).join('\n'), 'the cloud requests');
      await cloud.setMode({ reply: 'Your plate ⟨PLATE_1⟩ is noted.' });
      const plain = await chat(gw.base, chatBody(TEXT, { model: 'cloud' }));
      assert.equal(plain.json.choices[0].message.content, `Your plate ${PLATE} is noted.`);
      await assertCleanStop(gw);
    });

    it('the device tier gets the original text', async () => {
      const gw = await gateway('redact');
      const res = await chat(gw.base, chatBody(TEXT, { model: 'device' }));
      assert.equal(res.status, 200, res.text);
      const got = await device.requests();
      assert.equal(got[0].json.messages[0].content, TEXT);
      assert.equal((await cloud.requests()).length, 0);
      await assertCleanStop(gw);
    });

    it('/v1/route shows the mode and the kinds found, never the values', async () => {
      const gw = await gateway('redact');
      const res = await request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody(TEXT) });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json.privacy, { mode: 'redact', found: ['PHONE', 'CN_ID', 'EMAIL', 'PLATE'] });
      assertNoValues(res.text, '/v1/route');
      await assertCleanStop(gw);
    });
  });

  describe('local', () => {
    it('no request with personal data reaches the cloud: complex, forced model, forced header', async () => {
      const gw = await gateway('local');
      for (const [body, headers] of [
        [chatBody(COMPLEX), {}],
        [chatBody(TEXT, { model: 'cloud' }), {}],
        [chatBody(TEXT, { model: 'bigcloud' }), {}],
        [chatBody(TEXT), { 'X-Tiergate-Tier': 'cloud' }],
        [chatBody(COMPLEX, { stream: true }), {}],
      ]) {
        const res = body.stream ? await sse(gw.base, body, { headers }) : await chat(gw.base, body, { headers });
        assert.equal(res.status, 200, res.text ?? res.raw);
        assert.equal(res.headers['x-tiergate-tier'], 'device');
      }
      const route = await request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody(COMPLEX) });
      assert.equal(route.json.tier, 'device');
      assert.equal(route.json.reason, 'privacy');
      assert.deepEqual(route.json.privacy, { mode: 'local', found: ['PHONE'] });
      const forced = await chat(gw.base, chatBody(TEXT, { model: 'cloud' }));
      assert.equal(forced.headers['x-tiergate-reason'], 'privacy');
      assert.equal((await cloud.requests()).length, 0, 'a request reached the cloud');
      const clean = await chat(gw.base, chatBody('What is the capital of France?', { model: 'cloud' }));
      assert.equal(clean.headers['x-tiergate-tier'], 'cloud', 'a request without personal data may leave');
      await assertCleanStop(gw);
    });

    it('a failing device gives a 503 naming privacy, not a fallback to the cloud', async () => {
      const gw = await gateway('local');
      await device.setMode({ status: 500 });
      for (const stream of [false, true]) {
        const res = await chat(gw.base, chatBody(TEXT, { model: 'cloud', stream }));
        assert.equal(res.status, 503, res.text);
        assert.match(res.json.error.message, /personal data \(PHONE,CN_ID,EMAIL,PLATE\).*privacy\.mode is "local"/);
        assert.equal(res.headers['x-tiergate-reason'], 'privacy');
        assertNoValues(res.text, 'the error');
      }
      assert.equal((await cloud.requests()).length, 0, 'a request reached the cloud');
      await assertCleanStop(gw);
    });

    it('hedging never adds the cloud', async () => {
      const gw = await gateway('local', { hedge_after_ms: 50 });
      await device.setMode({ delay_headers_ms: 400 });
      // without personal data the slow device is hedged with the cloud ...
      const plain = await chat(gw.base, chatBody('open the sunroof please'));
      assert.equal(plain.headers['x-tiergate-reason'], 'hedge', 'the contrast case did not hedge');
      assert.equal((await cloud.requests()).length, 1);
      await cloud.clear();
      // ... with it, the same slow device is waited for
      const res = await chat(gw.base, chatBody(`open the sunroof please and call ${PHONE}`));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['x-tiergate-tier'], 'device');
      const big = await chat(gw.base, chatBody(COMPLEX));
      assert.equal(big.status, 200, big.text);
      assert.equal(big.headers['x-tiergate-tier'], 'device');
      assert.equal((await cloud.requests()).length, 0, 'a hedge reached the cloud');
      await assertCleanStop(gw);
    });
  });

  describe('off', () => {
    it('sends the request as written', async () => {
      const gw = await gateway('off');
      const res = await chat(gw.base, chatBody(TEXT, { model: 'cloud' }));
      assert.equal(res.status, 200, res.text);
      assert.equal((await cloud.requests())[0].json.messages[0].content, TEXT);
      const route = await request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody(TEXT) });
      assert.deepEqual(route.json.privacy, { mode: 'off', found: [] });
      await assertCleanStop(gw);
    });
  });
});
