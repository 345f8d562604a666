// Continuation (issue 15), through the official `openai` SDK, streaming.  A
// stream the cloud breaks after its first bytes is continued on the device
// (backends[].continuation "prefill"): the text the SDK assembles must equal
// the full answer byte for byte, for every kind of failure and every awkward
// place of the join.  Both simulated servers have the same label, so their
// full answers are the same and each can continue the other's.  Faults are
// put in each fake's mode (not in fake: tokens, which a continuation would
// carry to the continuing backend too).

import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  startFake, startGateway, makeConfig, assertCleanStop, request, chat,
} from './harness.mjs';

const TEXT = 'tell me a story about the road ahead and the sea beyond it';

let device;
let edge;
let cloud;

const fakes = () => [device, edge, cloud];

/* The SDK's view: the assembled text, the chunks, the error that ended it. */
async function streamed(gw, messages, { model = 'cloud', usage = false } = {}) {
  const client = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'sk-dummy', maxRetries: 0, timeout: 20000 });
  const chunks = [];
  let error = null;
  try {
    const stream = await client.chat.completions.create({
      model, messages, stream: true, ...(usage ? { stream_options: { include_usage: true } } : {}),
    });
    for await (const c of stream) chunks.push(c);
  } catch (e) {
    error = e;
  }
  const text = chunks.map((c) => (c.choices[0] && c.choices[0].delta.content) || '').join('');
  return { text, chunks, error };
}

const user = (t) => [{ role: 'user', content: t }];

function gatewayConfig({ deviceCont = 'prefill', cloudCont = 'none', edgeCont, privacy, routing = {}, cloudIdle = 300 } = {}) {
  const cfg = makeConfig({
    device: device.url,
    cloud: cloud.url,
    edge: edgeCont ? edge.url : undefined,
    cloudTimeouts: { idle_ms: cloudIdle },
    routing,
    health: { probe_interval_ms: 60000 },
    // Every test breaks the cloud's streams on purpose: its circuit must stay closed.
    extra: { circuit: { failures_to_open: 1000, min_requests: 1000000 }, ...(privacy ? { privacy: { mode: privacy } } : {}) },
  });
  for (const b of cfg.backends) {
    b.continuation = { local: deviceCont, bigcloud: cloudCont, depot: edgeCont }[b.name];
  }
  return cfg;
}

async function lastContinuation(fake) {
  const recs = (await fake.requests()).filter((r) => r.continuation);
  return recs.length ? recs[recs.length - 1].continuation : null;
}

async function metricsText(gw) {
  return (await request(gw.base, { path: '/metrics' })).text;
}

describe('continuation through the openai SDK', () => {
  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'same' });
    edge = await startFake({ model: 'mid-model', label: 'same' });
    cloud = await startFake({ model: 'big-model', label: 'same' });
  });
  beforeEach(async () => {
    for (const f of fakes()) {
      await f.setMode({});
      await f.clear();
    }
  });
  after(async () => {
    for (const f of fakes()) await f.stop();
  });

  describe('each failure kind, continued on the device', () => {
    let gw;
    before(async () => { gw = await startGateway(gatewayConfig()); });
    after(async () => { await assertCleanStop(gw); });

    const kinds = {
      cut: { cut_after: 2 },
      stall: { stall_after: 2 },
      'error event': { error_event_after: 2 },
      'end without finish_reason': { no_finish: true, chunks: 1 },
      'malformed event, then no finish_reason': { malformed_after: 1, no_finish: true, chunks: 3 },
    };
    for (const [kind, mode] of Object.entries(kinds)) {
      it(`${kind}: the assembled text is the full answer, byte for byte`, async () => {
        await cloud.setMode(mode);
        const r = await streamed(gw, user(TEXT), { usage: true });
        assert.equal(r.error, null, `the stream failed: ${r.error && r.error.message}`);
        assert.equal(r.text, cloud.answer(TEXT));
        const ids = new Set(r.chunks.map((c) => c.id));
        assert.equal(ids.size, 1, 'one id');
        assert.equal(r.chunks.filter((c) => c.choices[0] && c.choices[0].delta.role).length, 1, 'one role delta');
        assert.ok(r.chunks.every((c) => c.model === 'big-model'), 'the stream keeps its first model');
        const fin = r.chunks.filter((c) => c.choices[0] && c.choices[0].finish_reason);
        assert.equal(fin.length, 1);
        const usage = r.chunks[r.chunks.length - 1].usage;
        assert.ok(usage && usage.prompt_tokens > 0 && usage.completion_tokens > 0, 'a usage chunk');
        const cont = await lastContinuation(device);
        assert.equal(cont.outcome, 'continued');
        assert.equal(cont.dialect, 'prefill');
        assert.ok(cloud.answer(TEXT).startsWith(cont.prefix) && cont.prefix.length > 0);
      });
    }

    it('usage is the sum of both attempts, and /metrics and the log line say it was continued', async () => {
      await cloud.setMode({ cut_after: 2 });
      const r = await streamed(gw, user(TEXT), { usage: true });
      assert.equal(r.text, cloud.answer(TEXT));
      const usage = r.chunks[r.chunks.length - 1].usage;
      const fresh = await streamed(gw, user(TEXT), { usage: true, model: 'device' });
      const one = fresh.chunks[fresh.chunks.length - 1].usage;
      assert.ok(usage.prompt_tokens > one.prompt_tokens, `prompt ${usage.prompt_tokens} vs one attempt's ${one.prompt_tokens}`);
      assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
      const m = await metricsText(gw);
      assert.match(m, /tiergate_continuations_total\{from="bigcloud",to="local",outcome="completed"\} [1-9]/);
      assert.match(m, /tiergate_upstream_malformed_events_total\{backend="bigcloud"\} 1/);
      assert.match(m, /tiergate_upstream_attempts_total\{tier="device",backend="local",kind="continuation"\} [1-9]/);
      const line = gw.stderrText().split('\n').reverse()
        .find((l) => l.includes('"continuation":"completed"'));
      assert.ok(line, 'no request log line says "continuation":"completed"');
      const rec = JSON.parse(line);
      assert.equal(rec.continued_by, 'local');
      assert.ok(rec.continued_after_chars > 0);
      assert.match(rec.continued_why, /^backend bigcloud failed mid-stream: /);
    });

    it('the join inside a multi-byte character: every cut position inside the events', async () => {
      const zh = '请告诉我前面的路况和天气预报，谢谢你的帮助';
      const full = cloud.answer(zh);
      for (let at = 200; at < 900; at += 37) {
        await cloud.setMode({ cut_at_byte: at, chunk_bytes: 7 });
        const r = await streamed(gw, user(zh));
        assert.equal(r.error, null, `cut at ${at}: ${r.error && r.error.message}`);
        assert.equal(r.text, full, `cut at byte ${at}`);
        assert.ok(!r.text.includes('\uFFFD'));
      }
    });

    it('after a chunk of whitespace only, with a template that trims the prefix', async () => {
      await device.setMode({ continuation: 'trim' });
      const spaced = 'a b c d e f g h i j k l m n o p';
      for (let cut = 1; cut <= 12; cut++) {
        await cloud.setMode({ chunk_bytes: 1, cut_after: cut });
        const r = await streamed(gw, user(spaced));
        assert.equal(r.error, null, `cut after ${cut}: ${r.error && r.error.message}`);
        assert.equal(r.text, cloud.answer(spaced), `cut after ${cut}`);
      }
    });

    it('a refusal (400) ends the stream with an error event naming the original failure', async () => {
      await cloud.setMode({ cut_after: 2 });
      await device.setMode({ continuation: 'reject' });
      const r = await streamed(gw, user(TEXT));
      assert.ok(r.error, 'the stream did not fail');
      assert.match(r.error.message, /backend bigcloud failed mid-stream/);
      assert.match(r.error.message, /continuation on local: /);
      assert.ok(cloud.answer(TEXT).startsWith(r.text) && r.text.length > 0, 'no garbled text');
    });

    it('an answer that starts over ends the stream cleanly, with no doubled text', async () => {
      await cloud.setMode({ cut_after: 3 });
      await device.setMode({ continuation: 'restart' });
      const r = await streamed(gw, user(TEXT));
      assert.ok(r.error);
      assert.match(r.error.message, /backend bigcloud failed mid-stream.*started the answer over/);
      assert.ok(cloud.answer(TEXT).startsWith(r.text), `garbled: ${r.text}`);
      assert.equal((await lastContinuation(device)).outcome, 'restarted');
    });
  });

  it('a cut inside a tool call ends with an error event; after the whole tool call the stream is complete', async () => {
    const gw = await startGateway(gatewayConfig());
    await cloud.setMode({ tool_call: true, cut_after: 2 });
    const r = await streamed(gw, user(TEXT));
    assert.ok(r.error, 'the stream did not fail');
    assert.match(r.error.message, /backend bigcloud failed mid-stream.*cannot be continued as text/);
    assert.equal((await device.requests()).length, 0, 'a tool call was continued as text');
    assert.equal(r.text, '');
    // the whole tool call, then cut before its finish_reason: a whole turn,
    // which the gateway ends (finish_reason tool_calls, usage, [DONE]) and
    // does not continue
    const ARGS = '{"destination":"Hauptbahnhof","via":["charger 3"],"avoid_tolls":true}';
    await cloud.setMode({ tool_call: true, reply: ARGS, chunks: 5, cut_after: 5 });
    const closed = await streamed(gw, user(TEXT), { usage: true });
    assert.equal(closed.error, null, closed.error && closed.error.message);
    const closedArgs = closed.chunks.map((c) => c.choices[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '').join('');
    assert.equal(closedArgs, ARGS);
    assert.deepEqual(JSON.parse(closedArgs).via, ['charger 3']);
    const fin = closed.chunks.filter((c) => c.choices[0]?.finish_reason);
    assert.equal(fin.length, 1);
    assert.equal(fin[0].choices[0].finish_reason, 'tool_calls');
    assert.ok(closed.chunks.at(-1).usage.completion_tokens > 0, 'no usage chunk');
    assert.equal((await device.requests()).length, 0, 'a whole tool call was sent to be continued');
    assert.match(await metricsText(gw), /tiergate_continuations_total\{from="bigcloud",to="none",outcome="closed"\} 1/);
    // the same tool call, whole (its finish_reason came), then cut: complete
    await cloud.setMode({ tool_call: true, no_done: true });
    const whole = await streamed(gw, user(TEXT));
    assert.equal(whole.error, null);
    const args = whole.chunks.map((c) => c.choices[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '').join('');
    assert.equal(args, cloud.answer(TEXT));
    assert.equal(whole.chunks.at(-1).choices[0].finish_reason, 'tool_calls');
    await assertCleanStop(gw);
  });

  it('no candidate can continue: an error event and no [DONE]', async () => {
    const gw = await startGateway(gatewayConfig({ deviceCont: 'none' }));
    await cloud.setMode({ cut_after: 2 });
    const r = await streamed(gw, user(TEXT));
    assert.ok(r.error);
    assert.match(r.error.message, /backend bigcloud failed mid-stream/);
    assert.equal((await device.requests()).length, 0);
    assert.match(await metricsText(gw), /tiergate_continuations_total\{from="bigcloud",to="none",outcome="unavailable"\} 1/);
    await assertCleanStop(gw);
  });

  it('the deadline running out during the continuation: an error event naming the first failure', async () => {
    const gw = await startGateway(gatewayConfig({ routing: { deadline_ms: 1500 } }));
    await cloud.setMode({ stall_after: 2 });
    await device.setMode({ delay_first_chunk_ms: 3000 });
    const t0 = Date.now();
    const r = await streamed(gw, user(TEXT));
    assert.ok(r.error);
    assert.match(r.error.message, /backend bigcloud failed mid-stream/);
    assert.ok(Date.now() - t0 < 2500, `took ${Date.now() - t0} ms`);
    await assertCleanStop(gw);
  });

  describe('privacy', () => {
    const PII = 'call me on 13800138000 when you reach the harbour gate tonight please';

    it('redact: a cut inside a placeholder, continued on the device, restores the value exactly', async () => {
      const gw = await startGateway(gatewayConfig({ privacy: 'redact' }));
      const full = cloud.answer(PII);
      const prefixes = [];
      for (let cut = 10; cut <= 30; cut++) {
        await cloud.setMode({ chunk_bytes: 2, cut_after: cut });
        await device.clear();
        const r = await streamed(gw, user(PII));
        assert.equal(r.error, null, `cut ${cut}: ${r.error && r.error.message}`);
        assert.equal(r.text, full, `cut after ${cut}`);
        const cont = await lastContinuation(device);
        assert.equal(cont.outcome, 'continued');
        prefixes.push(cont.prefix);
      }
      // Cuts inside the placeholder: the held part never reached the client, nor the prefix.
      assert.ok(prefixes.filter((p) => p.endsWith('call me on')).length >= 3, prefixes.join(' | '));
      assert.ok(prefixes.every((p) => !p.includes('\u27e8')));
      await assertCleanStop(gw);
    });

    it('redact: a continuation on a masked tier gets the masked prefix, and the value is restored', async () => {
      const gw = await startGateway(gatewayConfig({ privacy: 'redact', deviceCont: 'none', edgeCont: 'prefill' }));
      const full = cloud.answer(PII);
      for (let cut = 10; cut <= 30; cut += 2) {
        await cloud.setMode({ chunk_bytes: 2, cut_after: cut });
        await edge.clear();
        const r = await streamed(gw, user(PII));
        assert.equal(r.error, null, `cut ${cut}: ${r.error && r.error.message}`);
        assert.equal(r.text, full, `cut after ${cut}`);
        for (const rec of await edge.requests()) assert.ok(!rec.body.includes('13800138000'), 'the value reached the edge');
        assert.equal((await lastContinuation(edge)).outcome, 'continued');
      }
      await assertCleanStop(gw);
    });

    it('redact: a device answer cut inside a personal value is not continued on a masked tier', async () => {
      // The device gets the request as written and echoes the value; the edge
      // gets it masked, so the part of the value the client already has must
      // not reach it as the continuation's prefix: the edge is passed over.
      const gw = await startGateway(gatewayConfig({ privacy: 'redact', deviceCont: 'none', edgeCont: 'prefill' }));
      const full = device.answer(PII);
      const at = full.indexOf('13800138000');
      for (let cut = 17; cut <= 26; cut++) {
        await device.setMode({ chunk_bytes: 2, cut_after: cut });
        await edge.clear();
        const r = await streamed(gw, user(PII), { model: 'local' });
        for (const rec of await edge.requests()) assert.ok(!rec.body.includes('138'), `cut ${cut}: part of the value reached the edge`);
        const had = 2 * cut - at;   // bytes of the value the client had at the cut
        if (had >= 3 && had < 11) {
          assert.ok(r.error, `cut ${cut}: the stream did not fail`);
          assert.match(r.error.message, /cut inside a personal value/);
        } else if (had <= 0 || had >= 11) {
          assert.equal(r.error, null, `cut ${cut}: ${r.error && r.error.message}`);
          assert.equal(r.text, full, `cut ${cut}`);
        }
      }
      await assertCleanStop(gw);
    });

    it('local: a request kept on the device is never continued on the cloud', async () => {
      const gw = await startGateway(gatewayConfig({ privacy: 'local', deviceCont: 'none', cloudCont: 'prefill' }));
      await device.setMode({ cut_after: 2 });
      const r = await streamed(gw, user(PII), { model: 'auto' });
      assert.ok(r.error, 'the stream did not fail');
      assert.match(r.error.message, /backend local failed mid-stream/);
      assert.equal((await cloud.requests()).length, 0, 'the cloud got the request');
      await assertCleanStop(gw);
    });
  });

  it('a continued answer can be asked for again and is whole (plain request after)', async () => {
    const gw = await startGateway(gatewayConfig());
    await cloud.setMode({ cut_after: 1 });
    const r = await streamed(gw, user(TEXT));
    assert.equal(r.text, cloud.answer(TEXT));
    await cloud.setMode({});
    const plain = await chat(gw.base, { model: 'cloud', messages: user(TEXT) });
    assert.equal(plain.json.choices[0].message.content, cloud.answer(TEXT));
    await assertCleanStop(gw);
  });
});
