// Bad input: every case gets its 4xx with an OpenAI-style error body and the
// tiergate headers, no model is called, and the gateway keeps serving.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  startFake, startGateway, makeConfig, chat, request, sse,
  assertErrorResponse, assertCleanStop,
} from './harness.mjs';

const MAX_BODY = 4096;

let device;
let cloud;
let gw;

const user = [{ role: 'user', content: 'open the sunroof please' }];

// name -> raw body (string, object or Buffer); each must be a 400.
const BAD_400 = {
  'malformed JSON': '{"model":"auto","messages":[{"role":"user","content":"hi"}',
  'trailing garbage after JSON': '{"model":"auto","messages":[{"role":"user","content":"hi"}]} x',
  'empty body': '',
  'body is a JSON array': '[{"role":"user","content":"hi"}]',
  'messages is not an array': { model: 'auto', messages: 'hi' },
  'messages is an object': { model: 'auto', messages: { role: 'user', content: 'hi' } },
  'stream is not a boolean': { model: 'auto', messages: user, stream: 'yes' },
  'max_tokens is a string': { model: 'auto', messages: user, max_tokens: '100' },
  'model is a number': { model: 42, messages: user },
  'missing messages': { model: 'auto' },
  'empty messages': { model: 'auto', messages: [] },
  'a message is not an object': { model: 'auto', messages: ['hi'] },
  'unknown role': { model: 'auto', messages: [{ role: 'wizard', content: 'hi' }] },
  'message without role': { model: 'auto', messages: [{ content: 'hi' }] },
  'content is a number': { model: 'auto', messages: [{ role: 'user', content: 7 }] },
  'unknown model': { model: 'no-such-model', messages: user },
  'unknown top-level field': { model: 'auto', messages: user, frobnicate: true },
  'invalid UTF-8 in a string': Buffer.concat([
    Buffer.from('{"model":"auto","messages":[{"role":"user","content":"caf'),
    Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
    Buffer.from('"}]}'),
  ]),
  'overlong UTF-8 encoding': Buffer.concat([
    Buffer.from('{"model":"auto","messages":[{"role":"user","content":"'),
    Buffer.from([0xc0, 0xaf]),
    Buffer.from('"}]}'),
  ]),
  'deeply nested messages': `{"model":"auto","messages":${'['.repeat(1500)}${']'.repeat(1500)}}`,
};

async function assertNoModelCalled() {
  assert.equal((await device.requests()).length, 0, 'the device model was called for bad input');
  assert.equal((await cloud.requests()).length, 0, 'the cloud model was called for bad input');
}

describe('errors', () => {
  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'device' });
    cloud = await startFake({ model: 'big-model', label: 'cloud' });
    gw = await startGateway(makeConfig({ device: device.url, cloud: cloud.url, limits: { max_body_bytes: MAX_BODY } }));
  });

  for (const [name, body] of Object.entries(BAD_400)) {
    it(`400 for ${name}`, async () => {
      const res = await chat(gw.base, body);
      assertErrorResponse(res, 400, name);
      assert.equal(res.json.error.type, 'invalid_request_error', `${name}: type`);
      await assertNoModelCalled();
    });
  }

  it('a parse error is answered before routing: tier, backend and reason are "none"', async () => {
    const res = await chat(gw.base, '{"model":');
    assertErrorResponse(res, 400);
    assert.equal(res.headers['x-tiergate-tier'], 'none');
    assert.equal(res.headers['x-tiergate-backend'], 'none');
    assert.equal(res.headers['x-tiergate-reason'], 'none');
  });

  it('the unknown model error has code model_not_found', async () => {
    const res = await chat(gw.base, { model: 'no-such-model', messages: user });
    assertErrorResponse(res, 400);
    assert.equal(res.json.error.code, 'model_not_found');
    assert.ok(res.json.error.message.includes('no-such-model'), `message does not name the model: ${res.json.error.message}`);
  });

  it('an unknown field is named in param or message', async () => {
    const res = await chat(gw.base, { model: 'auto', messages: user, frobnicate: true });
    assertErrorResponse(res, 400);
    const e = res.json.error;
    assert.ok(e.param === 'frobnicate' || e.message.includes('frobnicate'), `field not named: ${JSON.stringify(e)}`);
  });

  it('a stream request with bad input gets a plain JSON 400, not an SSE stream', async () => {
    const res = await sse(gw.base, { model: 'no-such-model', messages: user, stream: true });
    assert.equal(res.status, 400, res.raw);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    const json = JSON.parse(res.raw);
    assert.equal(json.error.code, 'model_not_found');
  });

  it('404 for an unknown path, with the error shape and headers', async () => {
    for (const p of ['/v1/nope', '/v1/chat/completions/extra', '/v2/chat/completions']) {
      const res = await request(gw.base, { path: p });
      assertErrorResponse(res, 404, `GET ${p}`);
    }
    const post = await request(gw.base, { method: 'POST', path: '/v1/completions', body: { model: 'auto', prompt: 'hi' } });
    assertErrorResponse(post, 404, 'POST /v1/completions');
  });

  it('405 for GET /v1/chat/completions', async () => {
    const res = await request(gw.base, { path: '/v1/chat/completions' });
    assertErrorResponse(res, 405, 'GET /v1/chat/completions');
    const del = await request(gw.base, { method: 'DELETE', path: '/v1/chat/completions' });
    assertErrorResponse(del, 405, 'DELETE /v1/chat/completions');
  });

  it('413 for a body over limits.max_body_bytes (Content-Length)', async () => {
    const big = { model: 'auto', messages: [{ role: 'user', content: 'x'.repeat(3 * MAX_BODY) }] };
    const res = await chat(gw.base, big);
    assertErrorResponse(res, 413, 'large body');
  });

  it('413 for a body over the limit sent chunked (no Content-Length)', async () => {
    const big = { model: 'auto', messages: [{ role: 'user', content: 'y'.repeat(3 * MAX_BODY) }] };
    const res = await chat(gw.base, big, { chunked: true });
    assertErrorResponse(res, 413, 'large chunked body');
  });

  it('a body just under the limit is accepted', async () => {
    const text = 'open the sunroof please ' + 'z'.repeat(MAX_BODY - 200);
    const body = { model: 'device', messages: [{ role: 'user', content: text }] };
    assert.ok(JSON.stringify(body).length < MAX_BODY);
    const res = await chat(gw.base, body);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.choices[0].message.content, device.answer(text));
    await device.clear();
  });

  it('no model was called for any bad input, and the gateway still serves', async () => {
    await assertNoModelCalled();
    const res = await chat(gw.base, { model: 'auto', messages: user });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.choices[0].message.content, device.answer('open the sunroof please'));
  });

  it('stops cleanly on SIGTERM', async () => {
    await assertCleanStop(gw);
  });
});
