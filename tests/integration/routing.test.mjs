// Routing: model "auto" by complexity, forced tiers and backends, the header
// override, the decision headers, and the dry-run endpoint POST /v1/route.

import { describe, it, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startFake, startGateway, makeConfig, chat, request, sse, chatBody, streamedContent,
  assertTieringHeaders, assertErrorResponse, assertCleanStop,
} from './harness.mjs';

const SIMPLE = ['打开空调', 'open the sunroof please', 'what time is it'];
const COMPLEX = [
  'Prove that there are infinitely many primes, step by step',
  '写一篇关于人工智能伦理的文章，不少于2000字，并分析其社会影响',
  'Implement a thread-safe LRU cache in C++ with unit tests and explain the design trade-offs',
];

let device;
let cloud;
let gw;

async function counts() {
  return { device: (await device.requests()).length, cloud: (await cloud.requests()).length };
}

function score(res) {
  const s = Number(res.headers['x-tiergate-score']);
  assert.ok(Number.isFinite(s) && s >= 0 && s <= 1, `x-tiergate-score is not a number in [0,1]: ${res.headers['x-tiergate-score']}`);
  return s;
}

function assertAnsweredBy(res, fake, text, { tier, backend, reason }) {
  assert.equal(res.status, 200, `status ${res.status}: ${res.text}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assertTieringHeaders(res.headers);
  assert.equal(res.headers['x-tiergate-tier'], tier, `tier for ${JSON.stringify(text)}`);
  assert.equal(res.headers['x-tiergate-backend'], backend, `backend for ${JSON.stringify(text)}`);
  assert.equal(res.headers['x-tiergate-reason'], reason, `reason for ${JSON.stringify(text)}`);
  const b = res.json;
  assert.equal(b.object, 'chat.completion');
  assert.equal(b.model, fake.model, 'response model must be the upstream model that answered');
  assert.equal(b.choices[0].message.role, 'assistant');
  assert.equal(b.choices[0].message.content, fake.answer(text));
  assert.equal(b.choices[0].finish_reason, 'stop');
}

/** /v1/route's explanation: the top features, named, largest first, and a
 * bias; the logit they add up to is the score's (the rest is small). */
function assertFeatures(d, text) {
  assert.ok(Array.isArray(d.features) && d.features.length > 0, `features is not a non-empty array: ${text}`);
  assert.equal(typeof d.bias, 'number');
  for (const [i, f] of d.features.entries()) {
    assert.equal(typeof f.name, 'string', text);
    assert.ok(f.name.length > 0, text);
    assert.ok(Number.isFinite(f.contribution), text);
    if (i > 0) assert.ok(Math.abs(f.contribution) <= Math.abs(d.features[i - 1].contribution), `not ordered: ${text}`);
  }
}

describe('routing', () => {
  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'device' });
    cloud = await startFake({ model: 'big-model', label: 'cloud' });
    gw = await startGateway(makeConfig({
      device: device.url, cloud: cloud.url,
      routing: { model_aliases: { 'gpt-4o-mini': 'auto', 'gpt-4o': 'cloud' } },
    }));
  });

  beforeEach(async () => {
    await device.clear();
    await cloud.clear();
  });

  for (const text of SIMPLE) {
    it(`auto routes a simple request to the device: ${text}`, async () => {
      const res = await chat(gw.base, chatBody(text));
      assertAnsweredBy(res, device, text, { tier: 'device', backend: 'local', reason: 'complexity' });
      assert.ok(score(res) < 0.5, `score ${score(res)} of a simple request is not below the threshold`);
      assert.deepEqual(await counts(), { device: 1, cloud: 0 });
    });
  }

  for (const text of COMPLEX) {
    it(`auto routes a complex request to the cloud: ${text.slice(0, 40)}`, async () => {
      const res = await chat(gw.base, chatBody(text));
      assertAnsweredBy(res, cloud, text, { tier: 'cloud', backend: 'bigcloud', reason: 'complexity' });
      assert.ok(score(res) >= 0.5, `score ${score(res)} of a complex request is below the threshold`);
      assert.deepEqual(await counts(), { device: 0, cloud: 1 });
    });
  }

  it('streams are routed the same way as non-streaming requests', async () => {
    const text = COMPLEX[0];
    const res = await sse(gw.base, chatBody(text, { stream: true }));
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-tiergate-tier'], 'cloud');
    assert.equal(res.headers['x-tiergate-reason'], 'complexity');
    assert.equal(streamedContent(res.events), cloud.answer(text));
    assert.deepEqual(await counts(), { device: 0, cloud: 1 });
  });

  it('an SDK model name aliased to "auto" is routed by complexity', async () => {
    let res = await chat(gw.base, chatBody(SIMPLE[1], { model: 'gpt-4o-mini' }));
    assertAnsweredBy(res, device, SIMPLE[1], { tier: 'device', backend: 'local', reason: 'complexity' });
    res = await chat(gw.base, chatBody(COMPLEX[0], { model: 'gpt-4o-mini' }));
    assertAnsweredBy(res, cloud, COMPLEX[0], { tier: 'cloud', backend: 'bigcloud', reason: 'complexity' });
    assert.deepEqual(await counts(), { device: 1, cloud: 1 });
  });

  it('the aliases are models too: listed by /v1/models and found by /v1/models/{id}', async () => {
    const list = await request(gw.base, { path: '/v1/models' });
    assert.equal(list.status, 200, list.text);
    const ids = list.json.data.map((m) => m.id);
    for (const alias of ['gpt-4o-mini', 'gpt-4o']) {
      assert.ok(ids.includes(alias), `${alias} not in ${ids}`);
      const one = await request(gw.base, { path: `/v1/models/${alias}` });
      assert.equal(one.status, 200, one.text);
      assert.equal(one.json.id, alias);
    }
  });

  it('an SDK model name aliased to a tier forces that tier', async () => {
    const res = await chat(gw.base, chatBody(SIMPLE[0], { model: 'gpt-4o' }));
    assertAnsweredBy(res, cloud, SIMPLE[0], { tier: 'cloud', backend: 'bigcloud', reason: 'forced' });
    assert.deepEqual(await counts(), { device: 0, cloud: 1 });
  });

  it('model "device" forces the device tier for a complex request', async () => {
    const text = COMPLEX[2];
    const res = await chat(gw.base, chatBody(text, { model: 'device' }));
    assertAnsweredBy(res, device, text, { tier: 'device', backend: 'local', reason: 'forced' });
    assert.deepEqual(await counts(), { device: 1, cloud: 0 });
  });

  it('model "cloud" forces the cloud tier for a simple request', async () => {
    const text = SIMPLE[0];
    const res = await chat(gw.base, chatBody(text, { model: 'cloud' }));
    assertAnsweredBy(res, cloud, text, { tier: 'cloud', backend: 'bigcloud', reason: 'forced' });
    assert.deepEqual(await counts(), { device: 0, cloud: 1 });
  });

  it('a backend name as model forces that backend', async () => {
    const r1 = await chat(gw.base, chatBody(SIMPLE[1], { model: 'bigcloud' }));
    assertAnsweredBy(r1, cloud, SIMPLE[1], { tier: 'cloud', backend: 'bigcloud', reason: 'forced' });
    const r2 = await chat(gw.base, chatBody(COMPLEX[0], { model: 'local' }));
    assertAnsweredBy(r2, device, COMPLEX[0], { tier: 'device', backend: 'local', reason: 'forced' });
    assert.deepEqual(await counts(), { device: 1, cloud: 1 });
  });

  it('header X-Tiergate-Tier: cloud forces the cloud for model auto', async () => {
    const text = SIMPLE[0];
    const res = await chat(gw.base, chatBody(text), { headers: { 'X-Tiergate-Tier': 'cloud' } });
    assertAnsweredBy(res, cloud, text, { tier: 'cloud', backend: 'bigcloud', reason: 'forced' });
    assert.deepEqual(await counts(), { device: 0, cloud: 1 });
  });

  it('an unknown model is a 400 model_not_found and calls no model', async () => {
    const res = await chat(gw.base, chatBody('hello', { model: 'gpt-9-does-not-exist' }));
    assertErrorResponse(res, 400, 'unknown model');
    assert.equal(res.json.error.code, 'model_not_found');
    assert.equal(res.json.error.type, 'invalid_request_error');
    assert.equal(res.headers['x-tiergate-backend'], 'none');
    assert.deepEqual(await counts(), { device: 0, cloud: 0 });
  });

  it('ids: gateway-generated chatcmpl-..., and a new x-request-id per request', async () => {
    const a = await chat(gw.base, chatBody(SIMPLE[1]));
    const b = await chat(gw.base, chatBody(SIMPLE[1]));
    assert.match(a.json.id, /^chatcmpl-./);
    assert.match(b.json.id, /^chatcmpl-./);
    assert.notEqual(a.json.id, b.json.id, 'two responses share an id');
    assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id'], 'two responses share an x-request-id');
    assert.equal(typeof a.json.created, 'number');
    assert.ok(a.json.usage && typeof a.json.usage.total_tokens === 'number', `usage missing: ${a.text}`);
  });

  describe('POST /v1/route (dry run)', () => {
    it('explains a simple request without calling any model', async () => {
      const body = chatBody(SIMPLE[1]);
      const before = await device.stats();
      const beforeCloud = await cloud.stats();
      const res = await request(gw.base, { method: 'POST', path: '/v1/route', body });
      assert.equal(res.status, 200, res.text);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      const d = res.json;
      assert.equal(d.tier, 'device');
      assert.equal(d.backend, 'local');
      assert.equal(d.reason, 'complexity');
      assert.equal(typeof d.score, 'number');
      assert.ok(d.score < 0.5);
      assertFeatures(d, res.text);
      assert.ok(Array.isArray(d.candidates) && d.candidates.length >= 1, `candidates: ${res.text}`);
      assert.ok(JSON.stringify(d.candidates[0]).includes('local'), `first candidate is not "local": ${res.text}`);
      // no chat request reached either fake
      assert.equal((await device.stats()).requests, before.requests);
      assert.equal((await cloud.stats()).requests, beforeCloud.requests);
      assert.deepEqual(await counts(), { device: 0, cloud: 0 });
    });

    it('explains a complex request; its score is the one the real request reports', async () => {
      const body = chatBody(COMPLEX[0]);
      const dry = await request(gw.base, { method: 'POST', path: '/v1/route', body });
      assert.equal(dry.status, 200, dry.text);
      assert.equal(dry.json.tier, 'cloud');
      assert.equal(dry.json.backend, 'bigcloud');
      assert.equal(dry.json.reason, 'complexity');
      assert.ok(dry.json.score >= 0.5);
      assertFeatures(dry.json, dry.text);
      const names = dry.json.features.map((f) => f.name);
      assert.ok(names.some((n) => /^(verb:prove|word:prove|word:primes)$/.test(n)),
        `no feature of the proof among the top: ${names}`);
      assert.deepEqual(await counts(), { device: 0, cloud: 0 });
      const real = await chat(gw.base, body);
      assert.equal(real.status, 200);
      assert.ok(Math.abs(score(real) - dry.json.score) < 0.01,
        `dry-run score ${dry.json.score} differs from the header ${real.headers['x-tiergate-score']}`);
    });

    it('reports a forced model as forced', async () => {
      const res = await request(gw.base, { method: 'POST', path: '/v1/route', body: chatBody(COMPLEX[1], { model: 'device' }) });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.tier, 'device');
      assert.equal(res.json.reason, 'forced');
      assert.deepEqual(await counts(), { device: 0, cloud: 0 });
    });

    it('explains which turn decided: a follow-up inherits the thread, a command after it does not', async () => {
      const thread = [
        { role: 'system', content: 'You are a careful assistant. Prove every claim and write code when asked.' },
        { role: 'user', content: 'Prove that the square root of 2 is irrational' },
        { role: 'assistant', content: 'Suppose sqrt(2) = p/q in lowest terms; then p^2 = 2q^2 ...' },
      ];
      const tools = ['set_window', 'navigate_to', 'play_media'].map((name) => ({
        type: 'function', function: { name, parameters: { type: 'object', properties: {} } },
      }));
      const why = await request(gw.base, {
        method: 'POST', path: '/v1/route',
        body: JSON.stringify({ model: 'auto', messages: [...thread, { role: 'user', content: 'why?' }] }),
      });
      assert.equal(why.status, 200, why.text);
      assert.deepEqual(why.json.decided_by, { turn: 3, follow_up: true, context_turns: [1], context_weight: 1, tools: 0 });
      assert.equal(why.json.tier, 'cloud', why.text);
      assertFeatures(why.json, why.text);
      assert.ok(why.json.features.some((f) => f.turn === 1 && f.contribution > 0),
        `no feature of the inherited proof: ${why.text}`);
      const cmd = await request(gw.base, {
        method: 'POST', path: '/v1/route',
        body: JSON.stringify({ model: 'auto', tools, messages: [...thread, { role: 'user', content: 'ok, open the sunroof please' }] }),
      });
      assert.equal(cmd.status, 200, cmd.text);
      assert.deepEqual(cmd.json.decided_by, { turn: 3, follow_up: false, context_turns: [1], context_weight: 0.25, tools: 3 });
      assert.equal(cmd.json.tier, 'device', cmd.text);
      assert.ok(cmd.json.features.every((f) => f.turn === undefined || f.turn === 1 || f.turn === 3), cmd.text);
      assert.deepEqual(await counts(), { device: 0, cloud: 0 });
    });

    it('rejects a bad body like the chat endpoint', async () => {
      const res = await request(gw.base, { method: 'POST', path: '/v1/route', body: '{"model":"auto","messages":' });
      assertErrorResponse(res, 400, 'route with malformed JSON');
    });
  });

  it('stops cleanly on SIGTERM', async () => {
    await assertCleanStop(gw);
  });
});

describe('routing with three tiers', () => {
  let edge;
  let g3;
  const MEDIUM = [
    'Explain how a hybrid car engine works',
    'Summarize the pros and cons of electric cars in a short paragraph',
    '如何提高汽车的续航里程？请详细说明',
  ];

  before(async () => {
    edge = await startFake({ model: 'mid-model', label: 'edge' });
    g3 = await startGateway(makeConfig({ device: device.url, edge: edge.url, cloud: cloud.url }));
  });

  it('the score picks the cheapest tier good enough: device < 0.5 <= edge < 0.75 <= cloud', async () => {
    const byTier = { device: ['local', device], edge: ['depot', edge], cloud: ['bigcloud', cloud] };
    for (const text of [...SIMPLE, ...MEDIUM, ...COMPLEX]) {
      const dry = await request(g3.base, { method: 'POST', path: '/v1/route', body: chatBody(text) });
      assert.equal(dry.status, 200, dry.text);
      const sc = dry.json.score;
      const want = sc < 0.5 ? 'device' : sc < 0.75 ? 'edge' : 'cloud';
      assert.equal(dry.json.tier, want, `score ${sc} of ${JSON.stringify(text)} routed to ${dry.json.tier}`);
      const res = await chat(g3.base, chatBody(text));
      const [backend, fake] = byTier[want];
      assertAnsweredBy(res, fake, text, { tier: want, backend, reason: 'complexity' });
    }
    for (const text of SIMPLE) {
      const r = await request(g3.base, { method: 'POST', path: '/v1/route', body: chatBody(text) });
      assert.equal(r.json.tier, 'device', `simple ${JSON.stringify(text)} not on the device`);
    }
    for (const text of COMPLEX.slice(0, 1)) {
      const r = await request(g3.base, { method: 'POST', path: '/v1/route', body: chatBody(text) });
      assert.notEqual(r.json.tier, 'device', `complex ${JSON.stringify(text)} on the device`);
    }
  });

  it('model "edge" and backend "depot" force the edge; /v1/models lists them', async () => {
    const r1 = await chat(g3.base, chatBody(COMPLEX[0], { model: 'edge' }));
    assertAnsweredBy(r1, edge, COMPLEX[0], { tier: 'edge', backend: 'depot', reason: 'forced' });
    const r2 = await chat(g3.base, chatBody(SIMPLE[0], { model: 'depot' }));
    assertAnsweredBy(r2, edge, SIMPLE[0], { tier: 'edge', backend: 'depot', reason: 'forced' });
    const models = await request(g3.base, { path: '/v1/models' });
    const ids = models.json.data.map((m) => m.id);
    for (const id of ['auto', 'device', 'edge', 'cloud', 'local', 'depot', 'bigcloud']) {
      assert.ok(ids.includes(id), `model list lacks ${id}: ${ids}`);
    }
  });

  it('stops cleanly on SIGTERM', async () => {
    await assertCleanStop(g3);
  });
});
