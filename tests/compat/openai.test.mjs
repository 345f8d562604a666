// Client compatibility: the official `openai` npm package, unchanged, against
// tiergate (baseURL http://127.0.0.1:PORT/v1, a dummy key), non-streaming and
// streaming, with the helpers, the model list and the error classes.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { APIError, BadRequestError, NotFoundError } from 'openai';
import {
  startFake, startGateway, makeConfig, assertCleanStop,
} from '../integration/harness.mjs';

const SIMPLE = 'open the sunroof please';
const COMPLEX = 'Prove that there are infinitely many primes, step by step';

let device;
let cloud;
let gw;
let client;

const user = (text) => [{ role: 'user', content: text }];

async function collect(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

const joined = (chunks) => chunks.map((c) => (c.choices[0] && c.choices[0].delta.content) || '').join('');

describe('openai npm package', () => {
  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'device' });
    cloud = await startFake({ model: 'big-model', label: 'cloud' });
    gw = await startGateway(makeConfig({ device: device.url, cloud: cloud.url }));
    client = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'sk-dummy', maxRetries: 0, timeout: 20000 });
  });

  it('chat.completions.create, non-streaming', async () => {
    const { data, response, request_id: rid } = await client.chat.completions
      .create({ model: 'device', messages: user(SIMPLE) })
      .withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, 'qwen-small');
    assert.match(data.id, /^chatcmpl-/);
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.equal(data.choices[0].message.content, device.answer(SIMPLE));
    assert.equal(data.choices[0].finish_reason, 'stop');
    assert.equal(typeof data.usage.total_tokens, 'number');
    assert.equal(response.headers.get('x-tiergate-tier'), 'device');
    const xrid = response.headers.get('x-request-id');
    assert.ok(xrid, 'no x-request-id');
    assert.equal(rid, xrid);
    assert.equal(data._request_id, xrid, 'the SDK\'s _request_id is not the x-request-id header');
  });

  it('model auto routes a complex request to the cloud through the SDK', async () => {
    const c = await client.chat.completions.create({ model: 'auto', messages: user(COMPLEX) });
    assert.equal(c.model, 'big-model');
    assert.equal(c.choices[0].message.content, cloud.answer(COMPLEX));
  });

  it('streaming: joined deltas equal the non-streaming answer, finish_reason stop, no empty choices', async () => {
    const whole = await client.chat.completions.create({ model: 'device', messages: user(SIMPLE) });
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'device', messages: user(SIMPLE), stream: true })
      .withResponse();
    assert.match(String(response.headers.get('content-type')), /^text\/event-stream/);
    const chunks = await collect(stream);
    assert.ok(chunks.length >= 2);
    assert.equal(joined(chunks), whole.choices[0].message.content);
    assert.ok(chunks.every((c) => c.choices.length > 0), 'a chunk with empty choices although usage was not asked for');
    assert.equal(chunks[chunks.length - 1].choices[0].finish_reason, 'stop');
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1, 'chunks carry different ids');
    assert.ok(chunks.every((c) => c.model === 'qwen-small'));
  });

  it('streaming with stream_options.include_usage: the last chunk has usage and no choices', async () => {
    const stream = await client.chat.completions.create({
      model: 'device', messages: user(SIMPLE), stream: true, stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);
    const last = chunks[chunks.length - 1];
    assert.deepEqual(last.choices, []);
    assert.ok(last.usage, 'no usage on the last chunk');
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
    assert.equal(chunks.filter((c) => c.choices.length === 0).length, 1);
    assert.equal(joined(chunks), device.answer(SIMPLE));
  });

  it('chat.completions.stream() helper: finalChatCompletion() and finalContent()', async () => {
    const runner = client.chat.completions.stream({ model: 'cloud', messages: user(SIMPLE) });
    const deltas = [];
    runner.on('content', (delta) => deltas.push(delta));
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0].message.content, cloud.answer(SIMPLE));
    assert.equal(final.choices[0].finish_reason, 'stop');
    assert.equal(final.model, 'big-model');
    assert.equal(deltas.join(''), cloud.answer(SIMPLE));
    assert.equal(await runner.finalContent(), cloud.answer(SIMPLE));
  });

  it('models.list() and models.retrieve()', async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    for (const id of ['auto', 'device', 'cloud', 'local', 'bigcloud']) {
      assert.ok(ids.includes(id), `models.list() lacks ${id}: ${ids}`);
    }
    const all = [];
    for await (const m of client.models.list()) all.push(m.id);
    assert.deepEqual(all, ids);
    const m = await client.models.retrieve('bigcloud');
    assert.equal(m.id, 'bigcloud');
    await assert.rejects(client.models.retrieve('gpt-9'), (e) => {
      assert.ok(e instanceof NotFoundError, `expected NotFoundError, got ${e && e.constructor.name}: ${e}`);
      assert.equal(e.status, 404);
      return true;
    });
  });

  it('a 400 is raised as BadRequestError with status, code and request id', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'no-such-model', messages: user(SIMPLE) }),
      (e) => {
        assert.ok(e instanceof BadRequestError, `expected BadRequestError, got ${e && e.constructor.name}: ${e}`);
        assert.equal(e.status, 400);
        assert.equal(e.code, 'model_not_found');
        assert.equal(e.type, 'invalid_request_error');
        assert.ok(e.requestID, 'no request id on the error');
        assert.equal(e.requestID, e.headers.get('x-request-id'));
        return true;
      },
    );
  });

  it('a 400 on a stream request is raised before iteration', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'device', messages: [], stream: true }),
      (e) => e instanceof BadRequestError && e.status === 400,
    );
  });

  it('a mid-stream upstream failure is raised as APIError during iteration', async () => {
    const text = `${SIMPLE} fake:chunks=10 fake:cut_after=3`;
    const stream = await client.chat.completions.create({ model: 'device', messages: user(text), stream: true });
    const got = [];
    await assert.rejects(
      (async () => { for await (const c of stream) got.push(c); })(),
      (e) => {
        assert.ok(e instanceof APIError, `expected APIError, got ${e && e.constructor.name}: ${e}`);
        return true;
      },
    );
    assert.ok(got.length >= 1, 'no chunk arrived before the failure');
    assert.ok(device.answer(text).startsWith(joined(got)), 'content before the failure is not a prefix of the answer');
  });

  it('a mid-stream upstream error event is raised as APIError by the stream() helper', async () => {
    const text = `${SIMPLE} fake:chunks=10 fake:error_event_after=2`;
    const runner = client.chat.completions.stream({ model: 'device', messages: user(text) });
    await assert.rejects(runner.finalChatCompletion(), (e) => {
      assert.ok(e instanceof APIError, `expected APIError, got ${e && e.constructor.name}: ${e}`);
      return true;
    });
  });

  it('an upstream stall mid-stream is raised as APIError, not a hang', async () => {
    const text = `${SIMPLE} fake:chunks=10 fake:stall_after=2`;
    const t0 = Date.now();
    const stream = await client.chat.completions.create({ model: 'device', messages: user(text), stream: true });
    await assert.rejects((async () => { for await (const c of stream) void c; })(), APIError);
    // device idle_ms is 2000
    assert.ok(Date.now() - t0 < 8000, `the stalled stream ended after ${Date.now() - t0} ms`);
  });

  it('stops cleanly on SIGTERM', async () => {
    await assertCleanStop(gw);
  });
});
