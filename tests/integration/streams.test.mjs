// Streams: the exact SSE wire format, usage only when asked, upstream quirks
// normalised, failures after the first byte ending in an error event without
// [DONE], and a client going away cancelling the upstream.
//
// Faults are injected per request with "fake:KEY=VALUE" tokens in the user
// message; every failure case runs its own gateway so that passive health
// marks from one case cannot reroute the next.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startFake, startGateway, makeConfig, sse, chat, chatBody, streamedContent, parseSse,
  assertTieringHeaders, assertSseWire, waitFor, assertCleanStop,
} from './harness.mjs';

let device;
let cloud;
let gw; // shared by the cases that do not fail

function config() {
  return makeConfig({
    device: device.url,
    cloud: cloud.url,
    deviceTimeouts: { connect_ms: 200, first_byte_ms: 2000, idle_ms: 1000, total_ms: 15000 },
    health: { probe_interval_ms: 1000 },
  });
}

/** Runs fn(gateway) against a fresh gateway and stops it afterwards. */
async function withGateway(fn) {
  const g = await startGateway(config());
  try {
    return await fn(g);
  } finally {
    await g.stop();
  }
}

function choiceChunks(events) {
  return events.filter((e) => e.json && Array.isArray(e.json.choices) && e.json.choices.length > 0);
}

/** A failed stream: 200, some content, then one error event, no [DONE], a clean end. */
function assertFailedStream(res, expectedPrefixOf) {
  assert.equal(res.status, 200, res.raw);
  assert.match(String(res.headers['content-type']), /^text\/event-stream/);
  assert.equal(res.ended, true, 'the HTTP response was not ended cleanly (chunked terminator missing)');
  assertSseWire(res.raw, { done: false });
  const content = streamedContent(res.events);
  if (expectedPrefixOf) {
    assert.ok(expectedPrefixOf.startsWith(content), `content before the failure is not a prefix of the answer: ${JSON.stringify(content)}`);
  }
  const errors = res.events.filter((e) => e.json && e.json.error);
  assert.equal(errors.length, 1, 'expected exactly one error event');
  return errors[0].json.error;
}

describe('streams', () => {
  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'device' });
    cloud = await startFake({ model: 'big-model', label: 'cloud' });
    gw = await startGateway(config());
  });

  after(async () => {
    await gw.stop();
  });

  it('wire format: data-only one-line JSON events, one id, role first, finish last, [DONE]', async () => {
    const text = 'open the sunroof please';
    const res = await sse(gw.base, chatBody(text, { model: 'device', stream: true }));
    assert.equal(res.status, 200, res.raw);
    assert.match(String(res.headers['content-type']), /^text\/event-stream/);
    assert.match(String(res.headers['cache-control']), /no-cache/, 'stream lacks Cache-Control: no-cache');
    assertTieringHeaders(res.headers);
    assert.equal(res.headers['x-tiergate-tier'], 'device');
    assert.equal(res.headers['x-tiergate-backend'], 'local');
    assert.equal(res.headers['x-tiergate-reason'], 'forced');
    assert.equal(res.ended, true);
    assertSseWire(res.raw, { done: true });
    const chunks = choiceChunks(res.events);
    assert.ok(chunks.length >= 3, `too few chunks: ${res.raw}`);
    const ids = new Set(res.events.filter((e) => e.json).map((e) => e.json.id));
    assert.equal(ids.size, 1, `chunks carry different ids: ${[...ids]}`);
    assert.match([...ids][0], /^chatcmpl-./);
    for (const e of res.events.filter((x) => x.json)) {
      assert.equal(e.json.object, 'chat.completion.chunk');
      assert.equal(e.json.model, 'qwen-small');
    }
    assert.equal(chunks[0].json.choices[0].delta.role, 'assistant', 'first chunk lacks delta.role');
    const finishes = chunks.filter((c) => c.json.choices[0].finish_reason !== null && c.json.choices[0].finish_reason !== undefined);
    assert.equal(finishes.length, 1, 'expected exactly one chunk with a finish_reason');
    assert.equal(finishes[0], chunks[chunks.length - 1], 'finish_reason is not on the last choice chunk');
    assert.equal(finishes[0].json.choices[0].finish_reason, 'stop');
    assert.equal(streamedContent(res.events), device.answer(text));
    assert.equal(res.events.filter((e) => e.json && Array.isArray(e.json.choices) && e.json.choices.length === 0).length, 0,
      'a usage chunk (choices: []) was sent although the client did not ask for usage');
  });

  it('the id differs between two streams', async () => {
    const a = await sse(gw.base, chatBody('what time is it', { model: 'device', stream: true }));
    const b = await sse(gw.base, chatBody('what time is it', { model: 'device', stream: true }));
    assert.notEqual(a.events[0].json.id, b.events[0].json.id);
  });

  it('include_usage: one final usage chunk with choices [] before [DONE]', async () => {
    const text = 'what time is it';
    const res = await sse(gw.base, chatBody(text, { model: 'device', stream: true, stream_options: { include_usage: true } }));
    assert.equal(res.status, 200);
    const data = assertSseWire(res.raw, { done: true });
    const usageChunks = res.events.filter((e) => e.json && Array.isArray(e.json.choices) && e.json.choices.length === 0);
    assert.equal(usageChunks.length, 1, `expected one usage chunk:\n${res.raw}`);
    const last = JSON.parse(data[data.length - 2].slice(6));
    assert.deepEqual(last.choices, [], 'the usage chunk is not the last chunk before [DONE]');
    for (const k of ['prompt_tokens', 'completion_tokens', 'total_tokens']) {
      assert.equal(typeof last.usage[k], 'number', `usage.${k}`);
    }
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
    assert.equal(streamedContent(res.events), device.answer(text));
  });

  it('include_usage false: no usage chunk', async () => {
    const res = await sse(gw.base, chatBody('what time is it', { model: 'device', stream: true, stream_options: { include_usage: false } }));
    assertSseWire(res.raw, { done: true });
    assert.equal(res.events.filter((e) => e.json && Array.isArray(e.json.choices) && e.json.choices.length === 0).length, 0);
  });

  it('many small chunks are re-emitted one by one and join to the answer', async () => {
    const text = 'open the sunroof please fake:chunks=25';
    const res = await sse(gw.base, chatBody(text, { model: 'device', stream: true }));
    assertSseWire(res.raw, { done: true });
    const withContent = choiceChunks(res.events).filter((c) => c.json.choices[0].delta.content);
    assert.ok(withContent.length >= 10, `only ${withContent.length} content chunks for chunks=25`);
    assert.equal(streamedContent(res.events), device.answer(text));
  });

  it('multi-byte UTF-8 content survives chunking', async () => {
    const text = '打开空调，温度调到二十二度 🚗 fake:chunks=30';
    const res = await sse(gw.base, chatBody(text, { model: 'device', stream: true }));
    assertSseWire(res.raw, { done: true });
    assert.equal(streamedContent(res.events), device.answer(text));
  });

  for (const [quirk, token] of [
    ['data: without a space', 'fake:no_space=1'],
    ['CRLF line endings', 'fake:crlf=1'],
    ['keep-alive comments', 'fake:keepalive=1'],
  ]) {
    it(`upstream ${quirk}: normalised to the exact wire format`, async () => {
      const text = `what time is it ${token}`;
      const res = await sse(gw.base, chatBody(text, { model: 'device', stream: true }));
      assert.equal(res.status, 200, res.raw);
      assertSseWire(res.raw, { done: true });
      assert.equal(streamedContent(res.events), device.answer(text));
    });
  }

  it('upstream without [DONE] but with a finish_reason ends normally with [DONE]', async () => {
    const text = 'what time is it fake:no_done=1';
    const res = await withGateway((g) => sse(g.base, chatBody(text, { model: 'device', stream: true })));
    assert.equal(res.status, 200, res.raw);
    assert.equal(res.ended, true);
    assertSseWire(res.raw, { done: true });
    assert.equal(res.events.filter((e) => e.json && e.json.error).length, 0, 'an error event was sent');
    assert.equal(streamedContent(res.events), device.answer(text));
  });

  it('upstream without finish_reason and without [DONE]: error event, no [DONE]', async () => {
    const text = 'what time is it fake:no_finish=1';
    const res = await withGateway((g) => sse(g.base, chatBody(text, { model: 'device', stream: true })));
    assertFailedStream(res, device.answer(text));
  });

  it('upstream connection cut mid-stream: error event, no [DONE], clean end', async () => {
    const text = 'open the sunroof please fake:chunks=10 fake:cut_after=3';
    const res = await withGateway((g) => sse(g.base, chatBody(text, { model: 'device', stream: true }), { timeoutMs: 8000 }));
    const err = assertFailedStream(res, device.answer(text));
    assert.ok(streamedContent(res.events).length > 0, 'the chunks before the cut were not delivered');
    assert.equal(err.type, 'server_error');
  });

  it('upstream stalling past idle_ms mid-stream: error event, no [DONE], no hang', async () => {
    const text = 'open the sunroof please fake:chunks=10 fake:stall_after=2';
    const t0 = Date.now();
    const res = await withGateway((g) => sse(g.base, chatBody(text, { model: 'device', stream: true }), { timeoutMs: 8000 }));
    const ms = Date.now() - t0;
    assertFailedStream(res, device.answer(text));
    assert.ok(streamedContent(res.events).length > 0, 'the chunks before the stall were not delivered');
    assert.ok(ms < 5000, `idle_ms is 1000 but the stalled stream took ${ms} ms to end`);
  });

  it('malformed chunk mid-stream: skipped, the stream goes on whole (issue 15)', async () => {
    const text = 'open the sunroof please fake:chunks=10 fake:malformed_after=2';
    const res = await withGateway((g) => sse(g.base, chatBody(text, { model: 'device', stream: true }), { timeoutMs: 8000 }));
    assert.equal(res.status, 200);
    assert.equal(streamedContent(res.events), device.answer(text));
    assert.ok(!res.events.some((e) => e.json && e.json.error), 'an error event');
    assert.equal(res.events.at(-1).data, '[DONE]');
  });

  it('a burst of 50 events in one read arrives whole and in order', async () => {
    const text = 'Explain the water cycle in a few short sentences for a school project fake:chunks=50 fake:burst=1';
    const res = await sse(gw.base, chatBody(text, { model: 'device', stream: true }));
    assert.equal(res.status, 200);
    assert.equal(streamedContent(res.events), device.answer(text));
    assert.equal(res.events.at(-1).data, '[DONE]');
  });

  it('a burst that stays open: the events after the first are parsed a loop turn later', async () => {
    const text = 'open the sunroof please fake:chunks=10 fake:burst=1 fake:linger=1';
    const res = await sse(gw.base, chatBody(text, { model: 'device', stream: true }), { timeoutMs: 8000 });
    assert.equal(res.status, 200);
    assert.equal(streamedContent(res.events), device.answer(text));
  });

  it('malformed chunk in a burst, after the first event: skipped; the stall after it ends the stream with an error event', async () => {
    const text = 'open the sunroof please fake:chunks=10 fake:malformed_after=2 fake:stall_after=5 fake:burst=1';
    const res = await withGateway((g) => sse(g.base, chatBody(text, { model: 'device', stream: true }), { timeoutMs: 8000 }));
    assertFailedStream(res, device.answer(text));
    // the chunks around the malformed one were relayed: five of the ten
    assert.ok(streamedContent(res.events).length > device.answer(text).length / 3, 'the chunks after the malformed one are missing');
  });

  it('upstream error event mid-stream: forwarded as an error event, no [DONE]', async () => {
    const text = 'open the sunroof please fake:chunks=10 fake:error_event_after=2';
    const res = await withGateway((g) => sse(g.base, chatBody(text, { model: 'device', stream: true }), { timeoutMs: 8000 }));
    assertFailedStream(res, device.answer(text));
    assert.ok(streamedContent(res.events).length > 0, 'the chunks before the error were not delivered');
  });

  it('a stream still dripping at total_ms ends with an error event, no [DONE]', async () => {
    const g = await startGateway(makeConfig({
      device: device.url, cloud: cloud.url,
      deviceTimeouts: { connect_ms: 200, first_byte_ms: 2000, idle_ms: 2000, total_ms: 1500 },
    }));
    try {
      const text = 'open the sunroof please fake:chunks=12 fake:chunk_delay_ms=400';
      const t0 = Date.now();
      const res = await sse(g.base, chatBody(text, { model: 'device', stream: true }), { timeoutMs: 10000 });
      const ms = Date.now() - t0;
      assertFailedStream(res, device.answer(text));
      assert.ok(streamedContent(res.events).length > 0, 'the chunks before total_ms were not delivered');
      assert.ok(ms < 4000, `total_ms is 1500 but the stream took ${ms} ms to end`);
    } finally {
      await g.stop();
    }
  });

  it('a long answer (about 60 kB) arrives whole, streamed and not', async () => {
    const reply = Array.from({ length: 4000 }, (_, i) => `word${i} 词${i % 10}`).join(' ');
    await device.setMode({ reply, chunks: 400 });
    try {
      const s = await sse(gw.base, chatBody('what time is it', { model: 'device', stream: true }), { timeoutMs: 15000 });
      assertSseWire(s.raw, { done: true });
      assert.equal(streamedContent(s.events), reply);
      const r = await chat(gw.base, chatBody('what time is it', { model: 'device' }), { timeoutMs: 15000 });
      assert.equal(r.status, 200);
      assert.equal(r.json.choices[0].message.content, reply);
    } finally {
      await device.setMode({});
    }
  });

  it('the connection is reusable after a stream that ended with an error event', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const g = await startGateway(config());
    try {
      const bad = await sse(g.base, chatBody('what time is it fake:cut_after=2', { model: 'device', stream: true }), { agent, timeoutMs: 8000 });
      assertFailedStream(bad);
      const good = await sse(g.base, chatBody('what time is it', { model: 'device', stream: true }), { agent, timeoutMs: 8000 });
      assert.equal(good.status, 200);
      assertSseWire(good.raw, { done: true });
      assert.equal(streamedContent(good.events), device.answer('what time is it'));
    } finally {
      agent.destroy();
      await g.stop();
    }
  });

  it('client disconnect mid-stream cancels the upstream', async () => {
    const s0 = await device.stats();
    const text = 'open the sunroof please fake:chunks=20 fake:chunk_delay_ms=500';
    let abortedAt = 0;
    const res = await sse(gw.base, chatBody(text, { model: 'device', stream: true }), {
      timeoutMs: 10000,
      onData: (raw, ctl) => {
        if (!abortedAt && streamedContent(parseLater(raw)).length > 0) {
          abortedAt = Date.now();
          ctl.abort();
        }
      },
    });
    assert.equal(res.aborted, true, 'the client did not get a first content chunk to abort after');
    const s = await waitFor(async () => {
      const st = await device.stats();
      return st.client_closed > s0.client_closed && st.active === 0 ? st : false;
    }, { timeoutMs: 1000, intervalMs: 25, what: 'the fake to see the upstream closed (client_closed+1, active 0)' });
    assert.ok(s.client_closed > s0.client_closed);
    assert.ok(Date.now() - abortedAt < 5000);
  });

  it('client disconnect while waiting for a non-stream answer cancels the upstream', async () => {
    const s0 = await device.stats();
    const text = 'what time is it fake:delay_headers_ms=4000';
    const payload = JSON.stringify(chatBody(text, { model: 'device' }));
    const req = http.request({
      host: '127.0.0.1', port: gw.port, method: 'POST', path: '/v1/chat/completions', agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    });
    let gotResponse = false;
    req.on('response', () => { gotResponse = true; });
    req.on('error', () => {});
    req.end(payload);
    await waitFor(async () => (await device.stats()).active > 0, { timeoutMs: 3000, what: 'the upstream request to start' });
    req.destroy();
    assert.equal(gotResponse, false, 'the gateway answered before the upstream did');
    await waitFor(async () => {
      const st = await device.stats();
      return st.client_closed > s0.client_closed && st.active === 0;
    }, { timeoutMs: 2000, intervalMs: 25, what: 'the fake to see the upstream closed (client_closed+1, active 0)' });
  });

  it('the shared gateway stops cleanly on SIGTERM after all of this', async () => {
    await assertCleanStop(gw);
  });
});

function parseLater(raw) {
  return parseSse(raw.slice(0, raw.lastIndexOf('\n\n') + 2));
}
