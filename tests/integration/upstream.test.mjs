// What the backends receive: their own model name, the backend's key and never
// the client's, the dialect's field names, usage always requested for streams;
// and what the gateway logs: JSON lines without secrets or prompt text.

import { describe, it, before, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startFake, startGateway, makeConfig, chat, sse, chatBody, streamedContent,
  assertCleanStop, CLOUD_KEY,
} from './harness.mjs';

const CLIENT_KEY = 'sk-client-secret-7e3b0c51';
const SECRET_PROMPT = 'my door code is 48151623 open the sunroof please';

let device;
let cloud;
let gw;

async function only(fake) {
  const list = await fake.requests();
  assert.equal(list.length, 1, `expected exactly one upstream request at ${fake.label}, got ${list.length}`);
  assert.ok(list[0].json, `upstream body is not JSON: ${list[0].body}`);
  return list[0];
}

describe('upstream requests', () => {
  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'device' });
    cloud = await startFake({ model: 'big-model', label: 'cloud' });
    gw = await startGateway(makeConfig({ device: device.url, cloud: cloud.url }));
  });

  beforeEach(async () => {
    await device.clear();
    await cloud.clear();
  });

  it('the device gets POST /v1/chat/completions with its own model name and no Authorization', async () => {
    const res = await chat(gw.base, chatBody('open the sunroof please', { model: 'device' }),
      { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
    assert.equal(res.status, 200, res.text);
    const r = await only(device);
    assert.equal(r.method, 'POST');
    assert.equal(r.path, '/v1/chat/completions');
    assert.equal(r.json.model, 'qwen-small');
    assert.equal(r.headers.authorization, undefined, `the device received Authorization: ${r.headers.authorization}`);
    assert.ok(!JSON.stringify(r.headers).includes(CLIENT_KEY), 'the client key reached the device');
    assert.match(String(r.headers['content-type']), /application\/json/);
  });

  it('the cloud gets its own key as a Bearer token, never the client key', async () => {
    const res = await chat(gw.base, chatBody('open the sunroof please', { model: 'cloud' }),
      { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
    assert.equal(res.status, 200, res.text);
    const r = await only(cloud);
    assert.equal(r.json.model, 'big-model');
    assert.equal(r.headers.authorization, `Bearer ${CLOUD_KEY}`);
    assert.ok(!JSON.stringify(r).includes(CLIENT_KEY), 'the client key reached the cloud');
    assert.equal((await device.requests()).length, 0);
  });

  it('compat dialect: max_completion_tokens arrives as max_tokens, developer as system', async () => {
    const body = {
      model: 'device',
      max_completion_tokens: 77,
      temperature: 0.3,
      messages: [
        { role: 'developer', content: 'You are a car assistant.' },
        { role: 'user', content: 'open the sunroof please' },
      ],
    };
    const res = await chat(gw.base, body);
    assert.equal(res.status, 200, res.text);
    const r = await only(device);
    assert.equal(r.json.max_tokens, 77, `upstream body: ${r.body}`);
    assert.equal(r.json.max_completion_tokens, undefined, `max_completion_tokens still sent: ${r.body}`);
    assert.equal(r.json.messages[0].role, 'system');
    assert.equal(r.json.messages[0].content, 'You are a car assistant.');
    assert.equal(r.json.messages[1].role, 'user');
    assert.equal(r.json.messages[1].content, 'open the sunroof please');
    assert.equal(r.json.temperature, 0.3);
  });

  it('openai dialect: max_completion_tokens and the developer role pass through', async () => {
    const body = {
      model: 'cloud',
      max_completion_tokens: 55,
      messages: [
        { role: 'developer', content: 'Be brief.' },
        { role: 'user', content: 'open the sunroof please' },
      ],
    };
    const res = await chat(gw.base, body);
    assert.equal(res.status, 200, res.text);
    const r = await only(cloud);
    assert.equal(r.json.max_completion_tokens, 55, `upstream body: ${r.body}`);
    assert.equal(r.json.messages[0].role, 'developer');
  });

  it('a multi-turn conversation arrives intact, and the answer echoes the last user message', async () => {
    const messages = [
      { role: 'system', content: 'You are a car assistant.' },
      { role: 'user', content: 'turn on the radio' },
      { role: 'assistant', content: 'Done.' },
      { role: 'user', content: 'louder please' },
    ];
    const res = await chat(gw.base, { model: 'device', messages });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.choices[0].message.content, device.answer('louder please'));
    const r = await only(device);
    assert.deepEqual(r.json.messages.map((m) => [m.role, m.content]), messages.map((m) => [m.role, m.content]));
  });

  it('a stream always asks the upstream for usage, and the client still gets none unasked', async () => {
    const text = 'what time is it';
    const res = await sse(gw.base, chatBody(text, { model: 'device', stream: true }));
    assert.equal(res.status, 200);
    assert.equal(streamedContent(res.events), device.answer(text));
    assert.equal(res.events.filter((e) => e.json && Array.isArray(e.json.choices) && e.json.choices.length === 0).length, 0);
    const r = await only(device);
    assert.equal(r.json.stream, true);
    assert.equal(r.json.stream_options && r.json.stream_options.include_usage, true, `upstream body: ${r.body}`);
  });

  it('a stream with include_usage false still asks the cloud for usage', async () => {
    const res = await sse(gw.base, chatBody('what time is it', { model: 'cloud', stream: true, stream_options: { include_usage: false } }));
    assert.equal(res.status, 200);
    const r = await only(cloud);
    assert.equal(r.json.stream_options && r.json.stream_options.include_usage, true, `upstream body: ${r.body}`);
  });

  it('a non-stream request is sent upstream as non-stream', async () => {
    const res = await chat(gw.base, chatBody('what time is it', { model: 'device' }));
    assert.equal(res.status, 200);
    const r = await only(device);
    assert.ok(r.json.stream === undefined || r.json.stream === false, `upstream body: ${r.body}`);
  });

  it('logs are JSON lines with neither secrets nor prompt text', async () => {
    for (const model of ['device', 'cloud', 'auto']) {
      const res = await chat(gw.base, chatBody(SECRET_PROMPT, { model }), { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
      assert.equal(res.status, 200);
    }
    const s = await sse(gw.base, chatBody(SECRET_PROMPT, { model: 'cloud', stream: true }), { headers: { Authorization: `Bearer ${CLIENT_KEY}` } });
    assert.equal(s.status, 200);
    const log = gw.stderrText();
    for (const line of log.split('\n').filter((l) => l.trim())) {
      assert.doesNotThrow(() => JSON.parse(line), `log line is not JSON: ${line}`);
    }
    assert.ok(!log.includes(CLOUD_KEY), 'the cloud API key appears in the log');
    assert.ok(!log.includes(CLIENT_KEY), 'the client key appears in the log');
    assert.ok(!log.includes('48151623'), 'prompt text appears in the log');
  });

  it('stops cleanly on SIGTERM', async () => {
    await assertCleanStop(gw);
  });
});
