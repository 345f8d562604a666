// The answer cache and the degraded reply (issue 17), through the official
// `openai` npm package and raw HTTP: stale-if-error when the cloud is down,
// "always" with a TTL, streaming replay byte-exact, client keys isolated, a
// request with personal data never stored (the file searched for it; a kind
// privacy.detectors turned off, tool-call arguments with privacy off), odd
// backend chunks survived and not stored, a stale cloud answer over budget
// when the device fails too,
// entries kept across a restart, a damaged file set aside, the admin
// DELETE /v1/cache, the degraded reply in Chinese and English, metrics and
// the request log's "cache" field, and a reload that turns the cache on.
// Every case runs its own gateway (and, where it kills one, its own fakes).

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import {
  startFake, startGateway, makeConfig, chat, request, sse, chatBody, streamedContent, assertSseWire,
  assertErrorResponse, unusedPort, waitFor, sleep, runGateway,
  metric as harnessMetric,
} from './harness.mjs';

const Q1 = 'Where is the left-luggage office in this station?';
const Q2 = 'How do I fold the rear seats of this car?';
const ZH = '退票怎么办';
const KEY_A = 'sk-client-a-0123456789abcdef';
const KEY_B = 'sk-client-b-0123456789abcdef';
const ADMIN = 'sk-admin-ops-0123456789abcdef';

let device;

function tmpDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tiergate-cache-'));
}

/** A config: cloud and device fakes (URLs), the cache section, more on top. */
function config({ cloudUrl, deviceUrl = device.url, cache = {}, extra = {}, routing = {} }) {
  return makeConfig({
    device: deviceUrl,
    cloud: cloudUrl,
    cloudTimeouts: { connect_ms: 200, first_byte_ms: 1000, idle_ms: 1000, total_ms: 5000 },
    deviceTimeouts: { connect_ms: 200, first_byte_ms: 1000, idle_ms: 1000, total_ms: 5000 },
    health: { probe_interval_ms: 60000 },
    routing: { retries: 0, ...routing },
    extra: { cache: { mode: 'offline', file: 'answers.cache', ...cache }, ...extra },
  });
}

/** A deterministic request for the cloud tier (forced, so that the score plays no part). */
const body = (text, over = {}) => chatBody(text, { model: 'cloud', temperature: 0, ...over });

function client(gw, apiKey = 'sk-dummy') {
  return new OpenAI({ baseURL: `${gw.base}/v1`, apiKey, maxRetries: 0, timeout: 20000 });
}

/** The request log line of the response with this X-Request-Id. */
async function logLine(gw, requestId) {
  return waitFor(() => gw.stderrText().split('\n').filter((l) => l.includes('"msg":"request"'))
    .map((l) => JSON.parse(l)).find((o) => o.request_id === requestId), { what: `log line of ${requestId}` });
}

const metric = (gw, name) => harnessMetric(gw, name, KEY_A);

const cachePath = (gw, file = 'answers.cache') => path.join(path.dirname(gw.configPath), file);

describe('answer cache', () => {
  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'device' });
  });

  it('offline: a stored cloud answer stands in when the cloud is down, before the device does', async () => {
    const cloud = await startFake({ model: 'big-model', label: 'cloud' });
    const gw = await startGateway(config({ cloudUrl: cloud.url }));
    const sdk = client(gw);
    const first = await sdk.chat.completions.create(body(Q1)).withResponse();
    assert.equal(first.data.choices[0].message.content, cloud.answer(Q1));
    assert.equal(first.response.headers.get('x-tiergate-cache'), null, 'a live answer has no cache header');
    assert.equal((await logLine(gw, first.response.headers.get('x-request-id'))).cache, 'store');
    // offline mode: while the cloud answers, it answers.
    const again = await sdk.chat.completions.create(body(Q1)).withResponse();
    assert.equal(again.response.headers.get('x-tiergate-reason'), 'forced');
    assert.equal((await cloud.requests()).length, 2);

    await cloud.stop();
    // The first failure: dispatch is about to fall back to the device.
    const stale = await sdk.chat.completions.create(body(Q1)).withResponse();
    const h = stale.response.headers;
    assert.equal(h.get('x-tiergate-reason'), 'cache');
    assert.equal(h.get('x-tiergate-cache'), 'stale');
    assert.equal(h.get('x-tiergate-backend'), 'bigcloud');
    assert.equal(h.get('x-tiergate-tier'), 'cloud');
    assert.equal(stale.data.model, 'big-model');
    assert.equal(stale.data.choices[0].message.content, cloud.answer(Q1));
    assert.equal(stale.data.choices[0].finish_reason, 'stop');
    assert.equal((await logLine(gw, h.get('x-request-id'))).cache, 'stale');
    // An answer never stored falls back to the device as before.
    const other = await sdk.chat.completions.create(body(Q2)).withResponse();
    assert.equal(other.response.headers.get('x-tiergate-reason'), 'fallback');
    assert.equal(other.data.choices[0].message.content, device.answer(Q2));
    assert.equal((await logLine(gw, other.response.headers.get('x-request-id'))).cache, 'miss');
    // Once the circuit is open the router skips the cloud up front: still the cloud's answer.
    for (let i = 0; i < 3; i++) await chat(gw.base, body(`${Q2} ${i}`));
    const open = await chat(gw.base, body(Q1));
    assert.equal(open.status, 200);
    assert.equal(open.headers['x-tiergate-cache'], 'stale');
    assert.equal(open.json.choices[0].message.content, cloud.answer(Q1));
    const ready = await request(gw.base, { path: '/readyz' });
    assert.match(ready.text, /"circuit":"open"/, 'the cloud circuit is open by now');
    assert.ok(await metric(gw, 'tiergate_cache_lookups_total{result="stale"}') >= 2);
    assert.equal(await metric(gw, 'tiergate_cache_stores_total'), 2);
    assert.ok(await metric(gw, 'tiergate_cache_entries') >= 1);
    const m = await request(gw.base, { path: '/metrics' });
    assert.match(m.text, /tiergate_requests_total\{[^}]*backend="bigcloud"[^}]*reason="cache",status="200"\} \d+/);
    assert.ok(!m.text.includes('You said'), 'no answer text in the metrics');
    const check = spawnSync('promtool', ['check', 'metrics'], { input: m.text, encoding: 'utf8' });
    assert.ok(!check.error, `promtool could not run (${check.error && check.error.code}): it comes with Debian's `
      + '"prometheus" package, which ./dev.sh installs');
    assert.equal(check.stdout + check.stderr, '', 'promtool found problems');
    assert.equal(check.status, 0);
    await gw.stop();
    assert.ok(!gw.stderrText().includes('You said'), 'no answer text in the log');
  });

  it('requests meant to vary are not stored; a temperature under the ceiling is', async () => {
    const cloud = await startFake({ model: 'big-model', label: 'cloud' });
    const gw = await startGateway(config({ cloudUrl: cloud.url, cache: { mode: 'always', max_temperature: 0.3,
      require_seed: true } }));
    const ask = async (over) => (await chat(gw.base, body(Q1, over))).headers;
    for (const over of [{ temperature: 0.7, seed: 1 }, { temperature: undefined, seed: 1 }, { n: 2, seed: 1 },
      { seed: undefined }]) {
      const h = await ask(over);
      assert.equal((await logLine(gw, h['x-request-id'])).cache, undefined, JSON.stringify(over));
      assert.equal((await ask(over))['x-tiergate-cache'], undefined, `not cached: ${JSON.stringify(over)}`);
    }
    await ask({ temperature: 0.2, seed: 7 });
    assert.equal((await ask({ temperature: 0.2, seed: 7 }))['x-tiergate-cache'], 'hit');
    await gw.stop();
  });

  it('always: a fresh entry answers first, until its TTL', async () => {
    const cloud = await startFake({ model: 'big-model', label: 'cloud' });
    const gw = await startGateway(config({ cloudUrl: cloud.url, cache: { mode: 'always', ttl_s: 1 } }));
    const sdk = client(gw);
    await sdk.chat.completions.create(body(Q1));
    const hit = await sdk.chat.completions.create(body(Q1)).withResponse();
    assert.equal(hit.response.headers.get('x-tiergate-cache'), 'hit');
    assert.equal(hit.response.headers.get('x-tiergate-reason'), 'cache');
    assert.equal(hit.data.choices[0].message.content, cloud.answer(Q1));
    assert.ok(hit.data.id.startsWith('chatcmpl-'));
    assert.equal(hit.data.usage.total_tokens, hit.data.usage.prompt_tokens + hit.data.usage.completion_tokens);
    assert.equal((await cloud.requests()).length, 1, 'the hit did not reach the cloud');
    // Key order, whitespace and stream options do not change the key.
    const reordered = `{"temperature":0,"messages":[{"content":${JSON.stringify(Q1)},"role":"user"}],  "model":"cloud","user":"u1"}`;
    assert.equal((await chat(gw.base, reordered)).headers['x-tiergate-cache'], 'hit');
    // The model target is part of the key: the device tier has no entry.
    assert.equal((await chat(gw.base, body(Q1, { model: 'device' }))).headers['x-tiergate-cache'], undefined);
    await sleep(2100);
    const late = await sdk.chat.completions.create(body(Q1)).withResponse();
    assert.equal(late.response.headers.get('x-tiergate-cache'), null, 'past the TTL the cloud answers again');
    assert.equal((await cloud.requests()).length, 2);
    assert.equal(await metric(gw, 'tiergate_cache_lookups_total{result="hit"}'), 2);
    await gw.stop();
  });

  it('a streamed answer is replayed as a well-formed stream, byte-exact', async () => {
    const cloud = await startFake({ model: 'big-model', label: 'cloud' });
    const gw = await startGateway(config({ cloudUrl: cloud.url, cache: { mode: 'always' } }));
    const sdk = client(gw);
    const text = `${Q1} ${ZH} ünïcödé ${'x'.repeat(150)}`;
    const live = [];
    for await (const c of await sdk.chat.completions.create(body(text, { stream: true }))) live.push(c);
    const liveText = live.map((c) => c.choices[0]?.delta?.content || '').join('');
    assert.equal(liveText, cloud.answer(text));

    const { data: stream, response } = await sdk.chat.completions
      .create(body(text, { stream: true, stream_options: { include_usage: true } })).withResponse();
    assert.equal(response.headers.get('x-tiergate-cache'), 'hit');
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    assert.equal(Buffer.compare(Buffer.from(chunks.map((c) => c.choices[0]?.delta?.content || '').join('')),
      Buffer.from(liveText)), 0, 'the replay joins to the live answer, byte for byte');
    assert.ok(chunks.length > 5, `chunked like a real stream (${chunks.length} chunks)`);
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    const last = chunks.filter((c) => c.choices.length).at(-1);
    assert.equal(last.choices[0].finish_reason, 'stop');
    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, []);
    assert.ok(usage.usage.completion_tokens > 0);
    for (const c of chunks) assert.equal(c.model, 'big-model');

    const raw = await sse(gw.base, body(text, { stream: true }));
    assert.equal(raw.headers['x-tiergate-cache'], 'hit');
    assert.match(raw.headers['content-type'], /^text\/event-stream/);
    assertSseWire(raw.raw, { done: true });
    assert.equal(streamedContent(raw.events), liveText);
    assert.ok(raw.events.every((e) => e.data === '[DONE]' || e.json.usage === undefined), 'no usage unasked');
    // A non-streaming request for the same conversation gets the same answer.
    assert.equal((await chat(gw.base, body(text))).json.choices[0].message.content, liveText);
    await gw.stop();
  });

  it('an answer cut mid-stream is never stored', async () => {
    const cloud = await startFake({ model: 'big-model', label: 'cloud' });
    const gw = await startGateway(config({ cloudUrl: cloud.url, cache: { mode: 'always' } }));
    await cloud.setMode({ cut_after: 2 });
    const cut = await sse(gw.base, body(Q1, { stream: true }));
    assertSseWire(cut.raw, { done: false });
    assert.equal((await logLine(gw, cut.headers['x-request-id'])).cache, 'miss');
    await cloud.setMode({});
    const next = await chat(gw.base, body(Q1));
    assert.equal(next.headers['x-tiergate-cache'], undefined);
    assert.equal(next.json.choices[0].message.content, cloud.answer(Q1));
    await gw.stop();
  });

  it('odd backend chunks (a delta that is no object, only empty choices): the gateway survives, nothing is stored', async () => {
    for (const mode of [{ array_delta_after: 1 }, { empty_choices: true }]) {
      const cloud = await startFake({ model: 'big-model', label: 'cloud' });
      const gw = await startGateway(config({ cloudUrl: cloud.url, cache: { mode: 'always' } }));
      await cloud.setMode(mode);
      const odd = await sse(gw.base, body(Q1, { stream: true }));
      assert.equal(odd.status, 200, JSON.stringify(mode));
      assert.notEqual((await logLine(gw, odd.headers['x-request-id'])).cache, 'store');
      await cloud.setMode({});
      const next = await chat(gw.base, body(Q1));
      assert.equal(next.status, 200, 'the gateway is still up');
      assert.equal(next.headers['x-tiergate-cache'], undefined, 'the odd answer was not stored');
      assert.equal(next.json.choices[0].message.content, cloud.answer(Q1));
      await gw.stop();
      await cloud.stop();
    }
  });

  it('two client keys never see each other\'s answers; DELETE /v1/cache?key= clears one', async () => {
    const cloud = await startFake({ model: 'big-model', label: 'cloud' });
    const gw = await startGateway(config({ cloudUrl: cloud.url, cache: { mode: 'always' },
      extra: { auth: { keys_env: 'TEST_KEYS', admin_keys_env: 'TEST_ADMIN' } } }),
    { TEST_KEYS: `kiosk-a:${KEY_A},kiosk-b:${KEY_B}`, TEST_ADMIN: `ops:${ADMIN}` });
    const a = client(gw, KEY_A);
    const b = client(gw, KEY_B);
    await a.chat.completions.create(body(Q1));
    const bFirst = await b.chat.completions.create(body(Q1)).withResponse();
    assert.equal(bFirst.response.headers.get('x-tiergate-cache'), null, "B does not get A's entry");
    assert.equal((await cloud.requests()).length, 2);
    assert.equal((await a.chat.completions.create(body(Q1)).withResponse()).response.headers.get('x-tiergate-cache'), 'hit');
    assert.equal((await b.chat.completions.create(body(Q1)).withResponse()).response.headers.get('x-tiergate-cache'), 'hit');

    const del = (p, key) => request(gw.base, { method: 'DELETE', path: p,
      headers: key ? { Authorization: `Bearer ${key}` } : {} });
    assert.equal((await del('/v1/cache')).status, 401);
    assert.equal((await del('/v1/cache', 'sk-wrong-0123456789abcdef')).status, 401);
    const forbidden = await del('/v1/cache', KEY_A);
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.json.error.code, 'permission_denied');
    // What it does not understand clears nothing: a 400 naming the parameter.
    for (const [q, param] of [['?key', 'key'], ['?client=kiosk-a', 'client'], ['?key=kiosk-a&all=1', 'all']]) {
      const bad = await del(`/v1/cache${q}`, ADMIN);
      assertErrorResponse(bad, 400);
      assert.equal(bad.json.error.param, param, q);
    }
    assert.equal(await metric(gw, 'tiergate_cache_entries'), 2, 'nothing was cleared');
    const one = await del('/v1/cache?key=kiosk-a', ADMIN);
    assert.equal(one.status, 200, one.text);
    assert.deepEqual(one.json, { deleted: true, key: 'kiosk-a', entries: 1 });
    assert.equal((await a.chat.completions.create(body(Q1)).withResponse()).response.headers.get('x-tiergate-cache'), null);
    assert.equal((await b.chat.completions.create(body(Q1)).withResponse()).response.headers.get('x-tiergate-cache'), 'hit');
    const all = await del('/v1/cache', ADMIN);
    assert.deepEqual(all.json, { deleted: true, entries: 2 });
    assert.equal(await metric(gw, 'tiergate_cache_entries'), 0);
    // The file was rewritten at once: the answers are gone from the disk too.
    assert.ok(!fs.readFileSync(cachePath(gw)).includes(Buffer.from(cloud.answer(Q1))));
    // The admin key is no client key.
    assert.equal((await chat(gw.base, body(Q1), { headers: { Authorization: `Bearer ${ADMIN}` } })).status, 401);
    await gw.stop();
  });

  it('DELETE /v1/cache does not exist without admin keys', async () => {
    const cloud = await startFake({ model: 'big-model', label: 'cloud' });
    const gw = await startGateway(config({ cloudUrl: cloud.url }));
    const res = await request(gw.base, { method: 'DELETE', path: '/v1/cache',
      headers: { Authorization: `Bearer ${ADMIN}` } });
    assertErrorResponse(res, 404);
    await gw.stop();
  });

  it('a request with personal data is never stored, in any privacy mode', async () => {
    for (const mode of ['redact', 'local', 'off']) {
      const cloud = await startFake({ model: 'big-model', label: 'cloud' });
      const gw = await startGateway(config({ cloudUrl: cloud.url, cache: { mode: 'always' },
        extra: { privacy: { mode } } }));
      const phone = '13812345678';
      const pii = `Call me back on ${phone} about the left luggage`;
      const model = mode === 'local' ? 'device' : 'cloud';
      for (let i = 0; i < 2; i++) {
        const res = await chat(gw.base, body(pii, { model }));
        assert.equal(res.status, 200, `${mode}: ${res.text}`);
        assert.equal(res.headers['x-tiergate-cache'], undefined, `${mode}: never served from the cache`);
        assert.equal((await logLine(gw, res.headers['x-request-id'])).cache, undefined);
      }
      await chat(gw.base, body(Q1));   // a plain one is stored, so the file is not empty
      await gw.stop();
      const file = fs.readFileSync(cachePath(gw));
      assert.ok(file.includes(Buffer.from(cloud.answer(Q1))), `${mode}: the plain answer is in the file`);
      assert.ok(!file.includes(Buffer.from(phone)), `${mode}: the phone number is not in the file`);
      assert.ok(!gw.stderrText().includes(phone), `${mode}: nor in the log`);
      await cloud.stop();
    }
  });

  it('personal data privacy lets through is not stored either: a kind switched off, tool-call arguments', async () => {
    const phone = '13812345678';
    const cases = [
      // redact with PHONE off: privacy finds nothing and sends the number on; the cache still looks.
      { privacy: { mode: 'redact', detectors: { PHONE: false } },
        messages: [{ role: 'user', content: `Call me back on ${phone} about the left luggage` }] },
      // off: the number only in an assistant's tool-call arguments.
      { privacy: { mode: 'off' },
        messages: [
          { role: 'user', content: 'Ring the station office for me' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function',
            function: { name: 'dial', arguments: JSON.stringify({ number: phone }) } }] },
          { role: 'tool', tool_call_id: 'call_1', content: 'ringing' },
          { role: 'user', content: 'Thanks, and where is the left-luggage office?' }] },
    ];
    for (const { privacy, messages } of cases) {
      const cloud = await startFake({ model: 'big-model', label: 'cloud' });
      const gw = await startGateway(config({ cloudUrl: cloud.url, cache: { mode: 'always' }, extra: { privacy } }));
      for (let i = 0; i < 2; i++) {
        const res = await chat(gw.base, { model: 'cloud', temperature: 0, messages });
        assert.equal(res.status, 200, `${privacy.mode}: ${res.text}`);
        assert.equal(res.headers['x-tiergate-cache'], undefined, `${privacy.mode}: never served from the cache`);
        assert.equal((await logLine(gw, res.headers['x-request-id'])).cache, undefined, privacy.mode);
      }
      await chat(gw.base, body(Q1));   // a plain one is stored, so the file is not empty
      await gw.stop();
      const file = fs.readFileSync(cachePath(gw));
      assert.ok(file.includes(Buffer.from(cloud.answer(Q1))), `${privacy.mode}: the plain answer is in the file`);
      assert.ok(!file.includes(Buffer.from(phone)), `${privacy.mode}: the phone number is not in the file`);
      await cloud.stop();
    }
  });

  it('over budget: the device answers live; when it fails too, a stored cloud answer (free) stands in', async () => {
    const cloud = await startFake({ model: 'big-model', label: 'cloud' });
    const dev = await startFake({ model: 'qwen-small', label: 'device' });
    const dir = tmpDir();
    const noon = Math.round((12 - new Date().getUTCHours() - new Date().getUTCMinutes() / 60) * 60);
    const cfg = config({ cloudUrl: cloud.url, deviceUrl: dev.url, extra: {
      budget: { daily: 1, state_file: path.join(dir, 'budget.state'), utc_offset_minutes: noon } } });
    cfg.backends[1].price = { input_per_mtok: 100000, output_per_mtok: 100000 };
    const gw = await startGateway(cfg);
    const first = await chat(gw.base, body(Q1));
    assert.equal(first.headers['x-tiergate-tier'], 'cloud');
    assert.equal((await logLine(gw, first.headers['x-request-id'])).cache, 'store');
    // The budget moved the cloud away; the device is reachable and answers: its reason stands.
    const moved = await chat(gw.base, body(Q1));
    assert.equal(moved.status, 200, moved.text);
    assert.equal(moved.headers['x-tiergate-reason'], 'budget');
    assert.equal(moved.headers['x-tiergate-cache'], undefined);
    assert.equal(moved.json.choices[0].message.content, dev.answer(Q1));
    // The device fails too: the stored cloud answer costs nothing, and beats a 503.
    await dev.stop();
    for (let i = 0; i < 2; i++) {   // twice: the device found down in dispatch, then (maybe) by its circuit
      const res = await chat(gw.base, body(Q1));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['x-tiergate-cache'], 'stale');
      assert.equal(res.json.choices[0].message.content, cloud.answer(Q1));
    }
    assert.equal((await cloud.requests()).length, 1, 'the cloud was not asked again');
    await gw.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('entries survive a restart; a damaged file is set aside and the trusted part kept', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'kiosk.cache');
    const cloud = await startFake({ model: 'big-model', label: 'cloud' });
    const gw1 = await startGateway(config({ cloudUrl: cloud.url, cache: { file } }));
    await chat(gw1.base, body(Q1));
    await chat(gw1.base, body(Q2));
    assert.equal((await gw1.stop()).code, 0);
    await cloud.stop();
    const down = `http://127.0.0.1:${await unusedPort()}/v1`;

    const gw2 = await startGateway(config({ cloudUrl: down, cache: { file } }));
    assert.match(gw2.stderrText(), /"msg":"cache loaded".*"entries":2/);
    for (const q of [Q1, Q2]) {
      const res = await chat(gw2.base, body(q));
      assert.equal(res.headers['x-tiergate-cache'], 'stale', q);
      assert.equal(res.json.choices[0].message.content, cloud.answer(q));
    }
    await gw2.stop();

    // Flip one byte inside the second answer's text.
    const bytes = fs.readFileSync(file);
    const at = bytes.lastIndexOf(Buffer.from(cloud.answer(Q2)));
    assert.ok(at > 0);
    bytes[at + 5] ^= 0x01;
    fs.writeFileSync(file, bytes);
    const gw3 = await startGateway(config({ cloudUrl: down, cache: { file } }));
    assert.match(gw3.stderrText(), /"level":"warn","msg":"cache: the file is damaged[^\n]*"entries_kept":1/);
    const aside = fs.readdirSync(dir).filter((f) => f.startsWith('kiosk.cache.corrupt-'));
    assert.equal(aside.length, 1, `set aside: ${fs.readdirSync(dir)}`);
    assert.equal((await chat(gw3.base, body(Q1))).headers['x-tiergate-cache'], 'stale');
    const damaged = await chat(gw3.base, body(Q2));
    assert.equal(damaged.headers['x-tiergate-cache'], undefined, 'the damaged answer is never served');
    assert.equal(damaged.json.choices[0].message.content, device.answer(Q2));
    await gw3.stop();

    // A file of another version, or no cache file at all: set aside, the gateway starts empty.
    fs.writeFileSync(file, Buffer.from('TGCACHE\0\x09\0\0\0\0\0\0\0', 'binary'));
    const gw4 = await startGateway(config({ cloudUrl: down, cache: { file } }));
    assert.match(gw4.stderrText(), /cache: the file is damaged/);
    assert.equal((await chat(gw4.base, body(Q1))).headers['x-tiergate-cache'], undefined);
    await gw4.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the degraded reply, in the user\'s language, when no tier can answer and nothing is cached', async () => {
    const down = `http://127.0.0.1:${await unusedPort()}/v1`;
    const reply = { zh: '网络暂时不可用，请稍后再试。', en: 'The assistant is offline for a moment; please try again shortly.' };
    const gw = await startGateway(config({ cloudUrl: down, deviceUrl: down, routing: { degraded_reply: reply } }));
    const sdk = client(gw);
    for (const [text, want] of [[ZH, reply.zh], [Q1, reply.en]]) {
      const { data, response } = await sdk.chat.completions.create(chatBody(text)).withResponse();
      assert.equal(data.choices[0].message.content, want);
      assert.equal(data.choices[0].finish_reason, 'stop');
      assert.equal(response.headers.get('x-tiergate-reason'), 'degraded');
      assert.equal(response.headers.get('x-tiergate-degraded'), 'true');
      assert.equal(response.headers.get('x-tiergate-backend'), 'none');
      const chunks = [];
      for await (const c of await sdk.chat.completions.create(chatBody(text, { stream: true }))) chunks.push(c);
      assert.equal(chunks.map((c) => c.choices[0]?.delta?.content || '').join(''), want);
    }
    // Circuits open: the router refuses at once, and the reply still comes.
    for (let i = 0; i < 4; i++) await chat(gw.base, chatBody(`${Q2} ${i}`));
    const quick = await chat(gw.base, chatBody(ZH));
    assert.equal(quick.status, 200);
    assert.equal(quick.json.choices[0].message.content, reply.zh);
    await gw.stop();

    // Off by default: the 503 stays.
    const plain = await startGateway(config({ cloudUrl: down, deviceUrl: down }));
    assertErrorResponse(await chat(plain.base, chatBody(ZH)), 503);
    await plain.stop();
  });

  it('--check prints the cache, the degraded reply and the admin key names, never a key', async () => {
    const cfg = config({ cloudUrl: device.url, cache: { mode: 'always', ttl_s: 60 },
      routing: { degraded_reply: { en: 'later' } },
      extra: { auth: { keys_env: 'TEST_KEYS', admin_keys_env: 'TEST_ADMIN' } } });
    const r = await runGateway(['--check', '--config', '{config}'], { config: cfg,
      env: { TEST_KEYS: `kiosk-a:${KEY_A}`, TEST_ADMIN: `ops:${ADMIN}`, TEST_CLOUD_KEY: 'sk-test-cloud-4f1d9c2a7b' } });
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout);
    assert.equal(printed.cache.mode, 'always');
    assert.equal(printed.cache.ttl_s, 60);
    assert.ok(printed.cache.file.endsWith('/answers.cache'));
    assert.deepEqual(printed.routing.degraded_reply, { en: 'later' });
    assert.deepEqual(printed.auth.admin_keys, ['ops']);
    assert.ok(!r.stdout.includes(ADMIN) && !r.stdout.includes(KEY_A));
    const bad = await runGateway(['--check', '--config', '{config}'], { config: cfg,
      env: { TEST_KEYS: `kiosk-a:${KEY_A}`, TEST_ADMIN: `ops:${KEY_A}`, TEST_CLOUD_KEY: 'x' } });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /the admin key ops is also the client key kiosk-a/);
    assert.ok(!bad.stderr.includes(KEY_A));
  });

  it('a reload turns the cache on and changes its settings', async () => {
    const cloud = await startFake({ model: 'big-model', label: 'cloud' });
    const cfg = config({ cloudUrl: cloud.url, cache: { mode: 'off' } });
    const gw = await startGateway(cfg);
    await chat(gw.base, body(Q1));
    assert.equal((await chat(gw.base, body(Q1))).headers['x-tiergate-cache'], undefined);
    fs.writeFileSync(gw.configPath, JSON.stringify({ ...cfg, cache: { mode: 'always', file: 'answers.cache' } }));
    gw.proc.kill('SIGHUP');
    await waitFor(() => gw.stderrText().includes('configuration reloaded'), { what: 'reload' });
    await chat(gw.base, body(Q1));
    assert.equal((await chat(gw.base, body(Q1))).headers['x-tiergate-cache'], 'hit');
    assert.ok(fs.existsSync(cachePath(gw)), 'the file is in the configuration\'s directory');
    // A reload that closes the store while a stream is under way: the stream
    // ends whole and is not stored (nothing to store it in), nothing breaks.
    await cloud.setMode({ chunk_delay_ms: 150, chunks: 5 });
    const slow = sse(gw.base, body(Q2, { stream: true }));
    await sleep(200);
    fs.writeFileSync(gw.configPath, JSON.stringify({ ...cfg, cache: { mode: 'off' } }));
    gw.proc.kill('SIGHUP');
    const done = await slow;
    assertSseWire(done.raw, { done: true });
    assert.equal(streamedContent(done.events), cloud.answer(Q2));
    assert.equal((await logLine(gw, done.headers['x-request-id'])).cache, 'miss');
    assert.equal((await request(gw.base, { path: '/healthz' })).status, 200);
    await gw.stop();
  });
});
