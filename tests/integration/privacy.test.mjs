// Privacy: personal data stays on the device (local) or leaves only masked
// (redact).  The simulated cloud records every request it receives; the
// tests assert on those records: in redact mode no personal value reached
// it (its placeholders did) while the client sees the values restored, in
// JSON and in streams (one character per chunk, so every placeholder is
// split at every character boundary); in local mode no request reached it
// at all: not for a complex prompt, a forced model or header, a failing
// device (fallback), nor a slow one (hedging).  The gateway's log is
// searched for the values afterwards.  The kinds a car hears (an address, a
// landline, a spoken number, a name) are masked and restored the same way,
// and privacy.detectors switches one off.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startFake, startGateway, makeConfig, chat, sse, request, streamedContent, assertSseWire,
  assertCleanStop, answer, chatBody, runGateway,
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

  async function gateway(mode, routing = {}, detectors = undefined) {
    await device.setMode({});
    await cloud.setMode({});
    await device.clear();
    await cloud.clear();
    const privacy = mode === undefined ? {} : { privacy: { mode, ...(detectors ? { detectors } : {}) } };
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

    it('masks the legacy function_call arguments and counts what they hold', async () => {
      const gw = await gateway('redact');
      const messages = [
        { role: 'user', content: 'Ring my wife.' },
        { role: 'assistant', content: null, function_call: { name: 'dial', arguments: `{"number":"${PHONE}"}` } },
        { role: 'user', content: 'Thanks.' },
      ];
      const res = await chat(gw.base, { model: 'cloud', messages });
      assert.equal(res.status, 200, res.text);
      const got = await cloud.requests();
      assert.equal(got.length, 1);
      assertNoValues(got[0].body, 'the cloud request');
      assert.equal(got[0].json.messages[1].function_call.arguments, '{"number":"⟨PHONE_1⟩"}');
      const route = await request(gw.base, { method: 'POST', path: '/v1/route', body: { model: 'auto', messages } });
      assert.deepEqual(route.json.privacy, { mode: 'redact', found: ['PHONE'] });
      await assertCleanStop(gw);
    });

    it('the classifier reads a personal value as a space: no placeholder word, no code mark', async () => {
      const gw = await gateway('redact');
      const ask = (text) => request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody(text) });
      const masked = await ask(`给王总发个短信，号码是${PHONE}，说会议改到下午两点`);
      const blank = await ask('给 发个短信，号码是 ，说会议改到下午两点');
      assert.equal(masked.status, 200, masked.text);
      assert.deepEqual(masked.json.privacy, { mode: 'redact', found: ['PHONE', 'NAME'] });
      assert.deepEqual(blank.json.privacy, { mode: 'redact', found: [] });
      assert.equal(masked.json.score, blank.json.score);
      for (const f of masked.json.features) assert.ok(!/code_marks|phone/i.test(f.name), `feature ${f.name}`);
      assertNoValues(masked.text, '/v1/route');
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

  describe('what a car hears: addresses, landlines, spoken numbers, names (redact)', () => {
    const NAME = '张伟';
    const LANDLINE = '010-65123456';
    const ADDRESS = '北京市朝阳区建国路88号3单元502';
    const CAR = `给${NAME}打电话，座机${LANDLINE}，告诉他我在${ADDRESS}等他。`;
    const CAR_MASKED = '给⟨NAME_1⟩打电话，座机⟨PHONE_1⟩，告诉他我在⟨ADDRESS_1⟩等他。';
    const EN_NAME = 'Anna Müller';
    const EN_ADDRESS = '221B Baker Street, London NW1';
    const SPOKEN = 'one three eight one two three four five six seven eight';
    const EN = `text ${EN_NAME} that I'm at ${EN_ADDRESS}, my number is ${SPOKEN}`;
    const NEW_VALUES = [NAME, LANDLINE, ADDRESS, EN_NAME, EN_ADDRESS, SPOKEN];

    function assertNoNewValues(text, where) {
      for (const v of NEW_VALUES) assert.ok(!text.includes(v), `${where} contains the personal value ${v}`);
    }

    it('the cloud gets placeholders, the client the values, in JSON and in one-character chunks', async () => {
      const gw = await gateway('redact');
      const res = await chat(gw.base, chatBody(CAR, { model: 'cloud' }));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.choices[0].message.content, answer('cloud', CAR));
      let got = await cloud.requests();
      assert.equal(got.length, 1);
      assert.equal(got[0].json.messages[0].content, CAR_MASKED);
      assertNoNewValues(got[0].body, 'the cloud request');

      await cloud.clear();
      const reply = 'Texting ⟨NAME_1⟩ now: you are at ⟨ADDRESS_1⟩, call back on ⟨PHONE_1⟩.';
      await cloud.setMode({ reply, chunks: 1000 });
      const st = await sse(gw.base, chatBody(EN, { model: 'cloud', stream: true }));
      assert.equal(st.status, 200, st.raw);
      assertSseWire(st.raw);
      assert.equal(streamedContent(st.events),
        `Texting ${EN_NAME} now: you are at ${EN_ADDRESS}, call back on ${SPOKEN}.`);
      got = await cloud.requests();
      assert.equal(got[0].json.messages[0].content, "text ⟨NAME_1⟩ that I'm at ⟨ADDRESS_1⟩, my number is ⟨PHONE_1⟩");
      assertNoNewValues(got[0].body, 'the cloud request');

      const route = await request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody(CAR) });
      assert.deepEqual(route.json.privacy, { mode: 'redact', found: ['PHONE', 'ADDRESS', 'NAME'] });
      assertNoNewValues(route.text, '/v1/route');
      await assertCleanStop(gw);
      assertNoNewValues(gw.stderrText(), 'the gateway log');
    });

    it('privacy.detectors switches a kind off: the name goes as written, the rest masked', async () => {
      const gw = await gateway('redact', {}, { NAME: false });
      const res = await chat(gw.base, chatBody(CAR, { model: 'cloud' }));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.choices[0].message.content, answer('cloud', CAR));
      const got = await cloud.requests();
      assert.equal(got[0].json.messages[0].content, `给${NAME}打电话，座机⟨PHONE_1⟩，告诉他我在⟨ADDRESS_1⟩等他。`);
      const route = await request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody(CAR) });
      assert.deepEqual(route.json.privacy, { mode: 'redact', found: ['PHONE', 'ADDRESS'] });
      await assertCleanStop(gw);

      const cfg = makeConfig({ device: device.url, cloud: cloud.url, extra: { privacy: { detectors: { NAME: false } } } });
      const check = await runGateway(['--check', '--config', '{config}'], { config: cfg, env: { TEST_CLOUD_KEY: 'x' } });
      assert.equal(check.code, 0, check.stderr);
      const printed = JSON.parse(check.stdout).privacy.detectors;
      assert.equal(printed.NAME, false);
      assert.equal(printed.ADDRESS, true);
      assert.equal(Object.keys(printed).length, 11);
      const bad = makeConfig({ device: device.url, cloud: cloud.url, extra: { privacy: { detectors: { name: false } } } });
      const refused = await runGateway(['--check', '--config', '{config}'], { config: bad, env: { TEST_CLOUD_KEY: 'x' } });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /privacy\.detectors\.name: is not a built-in kind/);
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
