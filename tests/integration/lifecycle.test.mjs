// Lifecycle: SIGHUP reloads the configuration (and the classifier model) without
// dropping a request in flight, an invalid one is refused and the old one stays;
// SIGTERM drains: no new connections, requests in flight finish, exit 0, and at
// the drain deadline what is left is cut with an error the client can read.
//
// The streams in flight come from the fake model server, slowed down with
// "fake:chunks=N fake:chunk_delay_ms=D" in the user message.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  startFake, startGateway, makeConfig, sse, chat, chatBody, streamedContent, assertSseWire,
  assertErrorBody, waitFor, assertCleanStop, scaled, sleep, request, MODEL_PATH,
} from './harness.mjs';

const SIMPLE = '打开空调';
const COMPLEX = 'Prove that there are infinitely many primes, then derive the quadratic formula step by step.';
const slow = (text, chunks, delayMs) => `${text} fake:chunks=${chunks} fake:chunk_delay_ms=${delayMs}`;

const fakes = [];
async function fake(label) {
  const f = await startFake({ label, model: `${label}-model` });
  fakes.push(f);
  return f;
}
after(async () => { for (const f of fakes) await f.stop(); });

function rewrite(gw, config) {
  fs.writeFileSync(gw.configPath, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
}

/** Sends SIGHUP and waits for the log line that says how it went. */
async function hup(gw, expect = 'configuration reloaded') {
  const before = gw.stderrText().split('\n').length;
  gw.proc.kill('SIGHUP');
  return waitFor(() => {
    const lines = gw.stderrText().split('\n').slice(before - 1);
    return lines.find((l) => l.includes(`"msg":"${expect}`)) || false;
  }, { timeoutMs: scaled(5000), what: `log line "${expect}" after SIGHUP` });
}

/** Resolves when a stream has delivered at least one content event. */
function streamStarted() {
  let signal;
  const started = new Promise((resolve) => { signal = resolve; });
  return { started, onData: (raw) => { if (raw.includes('"content"')) signal(); } };
}

/** Waits for the process to exit; resolves {code, signal, atMs}. */
function exitOf(gw) {
  if (gw.proc.exitCode !== null) return Promise.resolve({ code: gw.proc.exitCode, atMs: Date.now() });
  return new Promise((resolve) => gw.proc.once('exit', (code, signal) => resolve({ code, signal, atMs: Date.now() })));
}

describe('reload (SIGHUP)', () => {
  it('changes a backend while a stream is in flight: the stream completes on the old one, new requests use the new one', async () => {
    const a = await fake('devA');
    const b = await fake('devB');
    const gw = await startGateway(makeConfig({ device: a.url }));
    try {
      const text = slow(SIMPLE, 10, 150);
      const s = streamStarted();
      const streaming = sse(gw.base, chatBody(text, { stream: true }), { onData: s.onData });
      await s.started;
      rewrite(gw, makeConfig({ device: b.url }));
      await hup(gw);
      const fresh = await chat(gw.base, chatBody(SIMPLE));
      assert.equal(fresh.status, 200, fresh.text);
      assert.equal(fresh.json.choices[0].message.content, b.answer(SIMPLE));
      const res = await streaming;
      assert.equal(res.status, 200);
      assertSseWire(res.raw, { done: true });
      assert.equal(streamedContent(res.events), a.answer(text));
      assert.equal(res.events.filter((e) => e.json && e.json.error).length, 0, res.raw);
      assert.equal((await a.requests()).length, 1, 'devA got only the stream');
      assert.equal((await b.requests()).length, 1, 'devB got only the request after the reload');
    } finally {
      await assertCleanStop(gw);
    }
  });

  it('applies new routing and client keys, and keeps a request in flight counted under its key', async () => {
    const dev = await fake('dev');
    const cloud = await fake('cloud');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tiergate-keys-'));
    const keys = path.join(dir, 'keys');
    fs.writeFileSync(keys, 'app:sk-old-key-00000001\n');
    const cfg = (extra) => makeConfig({
      device: dev.url, cloud: cloud.url,
      extra: { auth: { keys_file: keys } }, limits: { max_inflight_per_key: 1 }, ...extra,
    });
    const gw = await startGateway(cfg());
    try {
      const old = { Authorization: 'Bearer sk-old-key-00000001' };
      const before = await chat(gw.base, chatBody(COMPLEX), { headers: old });
      assert.equal(before.headers['x-tiergate-tier'], 'cloud', before.text);

      // one request in flight under "app" while the keys and the threshold change
      const s = streamStarted();
      const inflight = sse(gw.base, chatBody(slow(SIMPLE, 8, 150), { stream: true }), { headers: old, onData: s.onData });
      await s.started;
      fs.writeFileSync(keys, 'app:sk-new-key-00000002\n');
      rewrite(gw, cfg({ routing: { threshold: 1.0, cloud_threshold: 1.0 } }));
      await hup(gw);

      const refused = await chat(gw.base, chatBody(SIMPLE), { headers: old });
      assert.equal(refused.status, 401, 'the old key is gone after the reload');
      assertErrorBody(refused.json);
      const fresh = { Authorization: 'Bearer sk-new-key-00000002' };
      const busy = await chat(gw.base, chatBody(SIMPLE), { headers: fresh });
      assert.equal(busy.status, 429, 'the stream in flight still counts against "app" (limit 1)');
      const res = await inflight;
      assertSseWire(res.raw, { done: true });
      const after = await chat(gw.base, chatBody(COMPLEX), { headers: fresh });
      assert.equal(after.status, 200, after.text);
      assert.equal(after.headers['x-tiergate-tier'], 'device', 'threshold 1.0 keeps everything on the device');
    } finally {
      await assertCleanStop(gw);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an invalid file or classifier model, logs why, and keeps serving with the old configuration', async () => {
    const dev = await fake('dev');
    const gw = await startGateway(makeConfig({ device: dev.url }));
    const badModel = path.join(os.tmpdir(), `tiergate-bad-model-${process.pid}`);
    try {
      rewrite(gw, '{"listen": "127.0.0.1:0", "backends": [');
      const l1 = await hup(gw, 'reload failed');
      assert.match(l1, /"error":"[^"]+"/);
      assert.match(l1, /"level":"error"/);

      rewrite(gw, makeConfig({ device: dev.url, routing: { threshold: 1.5 } }));
      const l2 = await hup(gw, 'reload failed');
      assert.match(l2, /routing\.threshold/);

      fs.writeFileSync(badModel, 'not a model\n');
      rewrite(gw, makeConfig({ device: dev.url, routing: { classifier_model: badModel } }));
      const l3 = await hup(gw, 'reload failed');
      assert.ok(l3.includes(path.basename(badModel)), `the error names the model file: ${l3}`);

      // a request log that cannot be opened refuses the whole reload, not just the log
      rewrite(gw, makeConfig({ device: dev.url, routing: { threshold: 0.7 }, extra: { log: { file: '/nonexistent/dir/requests.log' } } }));
      const l4 = await hup(gw, 'reload failed');
      assert.match(l4, /log\.file: \/nonexistent\/dir\/requests\.log/);

      const r = await chat(gw.base, chatBody(SIMPLE));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.choices[0].message.content, dev.answer(SIMPLE));
      assert.equal((await request(gw.base, { path: '/v1/route', method: 'POST', body: chatBody(COMPLEX) })).json.threshold, 0.5,
        'the threshold of the refused reload was not applied');

      // and a good file after bad ones is taken
      rewrite(gw, makeConfig({ device: dev.url, routing: { classifier_model: MODEL_PATH } }));
      await hup(gw);
    } finally {
      fs.rmSync(badModel, { force: true });
      await assertCleanStop(gw);
    }
  });

  it('says which changed settings wait for a restart', async () => {
    const dev = await fake('dev');
    const gw = await startGateway(makeConfig({ device: dev.url }));
    try {
      rewrite(gw, makeConfig({ device: dev.url, limits: { max_connections: 77 } }));
      await hup(gw);
      await waitFor(() => /take effect only at a restart.*limits\.max_connections/.test(gw.stderrText()),
        { what: 'restart warning' });
      const r = await chat(gw.base, chatBody(SIMPLE));
      assert.equal(r.status, 200, 'still listening where it was');
    } finally {
      await assertCleanStop(gw);
    }
  });

  it('keeps what it knew about a backend that stays: an open circuit stays open', async () => {
    const dev = await fake('dev');
    const cloud = await fake('cloud');
    const config = makeConfig({
      device: dev.url, cloud: cloud.url, extra: { circuit: { cooldown_ms: 60000 } },
      health: { probe_interval_ms: 60000 },
    });
    const gw = await startGateway(config);
    try {
      await cloud.setMode({ status: 500 });
      for (let i = 0; i < 3; i++) await chat(gw.base, chatBody(COMPLEX));
      const open = await request(gw.base, { path: '/readyz' });
      const circuitOf = (res) => res.json.backends.find((x) => x.name === 'bigcloud').circuit;
      assert.equal(circuitOf(open), 'open', open.text);
      await cloud.setMode({});
      // the next probe is a minute away: only inherited knowledge keeps it open
      rewrite(gw, { ...config, routing: { ...config.routing, threshold: 0.4 } });
      await hup(gw);
      const after = await request(gw.base, { path: '/readyz' });
      assert.equal(circuitOf(after), 'open', 'the reload did not forget the open circuit');
      const r = await chat(gw.base, chatBody(COMPLEX));
      assert.equal(r.headers['x-tiergate-reason'], 'offline', r.text);
    } finally {
      await assertCleanStop(gw);
    }
  });
});

describe('drain (SIGTERM)', () => {
  it('stops accepting, lets a stream in flight finish with [DONE], then exits 0', async () => {
    const dev = await fake('dev');
    const gw = await startGateway(makeConfig({ device: dev.url }));
    const text = slow(SIMPLE, 10, 150);
    const s = streamStarted();
    const streaming = sse(gw.base, chatBody(text, { stream: true }), { onData: s.onData });
    await s.started;
    const exited = exitOf(gw);
    gw.proc.kill('SIGTERM');
    await waitFor(() => gw.stderrText().includes('"msg":"draining'), { what: 'draining log line' });
    await assert.rejects(chat(gw.base, chatBody(SIMPLE), { timeoutMs: 2000 }), /ECONNREFUSED/,
      'a new connection is refused while draining');
    const res = await streaming;
    const streamEnd = Date.now();
    assertSseWire(res.raw, { done: true });
    assert.equal(streamedContent(res.events), dev.answer(text));
    const ex = await exited;
    assert.equal(ex.code, 0, gw.stderrText().slice(-2000));
    assert.ok(ex.atMs - streamEnd < scaled(2000), `exited ${ex.atMs - streamEnd} ms after the stream ended`);
    assert.match(gw.stderrText(), /"msg":"drained: no request left"/);
  });

  it('answers a new request on a kept-alive connection with 503 and closes it; /readyz says draining', async () => {
    const dev = await fake('dev');
    const gw = await startGateway(makeConfig({ device: dev.url }));
    const sock = net.connect(gw.port, '127.0.0.1');
    let got = '';
    sock.setEncoding('utf8');
    sock.on('data', (d) => { got += d; });
    const closed = new Promise((resolve) => sock.on('close', resolve));
    await new Promise((resolve) => sock.once('connect', resolve));
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => got.includes('"status":"ok"'), { what: 'first response on the kept-alive connection' });

    const s = streamStarted();
    const streaming = sse(gw.base, chatBody(slow(SIMPLE, 10, 150), { stream: true }), { onData: s.onData });
    await s.started;
    const exited = exitOf(gw);
    gw.proc.kill('SIGTERM');
    await waitFor(() => gw.stderrText().includes('"msg":"draining'), { what: 'draining log line' });

    got = '';
    sock.write('GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => got.includes('"status":"draining"'), { what: '/readyz draining' });
    assert.match(got, /^HTTP\/1\.1 503/);
    assert.match(got, /\r\nConnection: close\r\n/i);
    await closed;
    const sock2 = net.connect(gw.port, '127.0.0.1');
    await assert.rejects(new Promise((resolve, reject) => { sock2.once('connect', resolve); sock2.once('error', reject); }),
      /ECONNREFUSED/);

    const res = await streaming;
    assertSseWire(res.raw, { done: true });
    assert.equal((await exited).code, 0);
  });

  it('cuts what is left at limits.drain_timeout_s: an error event in a stream, a 503 for a waiting request', async () => {
    const dev = await fake('dev');
    const gw = await startGateway(makeConfig({
      device: dev.url, limits: { drain_timeout_s: 1 },
      deviceTimeouts: { first_byte_ms: 20000, idle_ms: 20000, total_ms: 60000 },
    }));
    const s = streamStarted();
    const streaming = sse(gw.base, chatBody(slow(SIMPLE, 40, 250), { stream: true }), { onData: s.onData });
    const waiting = chat(gw.base, chatBody(`${SIMPLE} fake:delay_headers_ms=15000`));
    await s.started;
    await waitFor(async () => (await dev.requests()).length === 2, { what: 'both requests at the backend' });
    const exited = exitOf(gw);
    const t0 = Date.now();
    gw.proc.kill('SIGTERM');

    const res = await streaming;
    assert.equal(res.status, 200);
    assert.equal(res.ended, true, 'the stream was ended properly, not dropped');
    assertSseWire(res.raw, { done: false });
    const errors = res.events.filter((e) => e.json && e.json.error);
    assert.equal(errors.length, 1, res.raw);
    assert.equal(errors[0].json.error.code, 'shutting_down');
    const w = await waiting;
    assert.equal(w.status, 503, w.text);
    assertErrorBody(w.json);
    assert.equal(w.json.error.code, 'shutting_down');
    const ex = await exited;
    assert.equal(ex.code, 0, gw.stderrText().slice(-2000));
    const took = ex.atMs - t0;
    assert.ok(took >= 900 && took < scaled(3500), `exit ${took} ms after SIGTERM with a 1 s drain deadline`);
    assert.match(gw.stderrText(), /"msg":"drain deadline passed[^"]*","cut":2/);
  });

  it('a request cut at the deadline is logged as the 503 its client got, its backend answering in the last second', async () => {
    const dev = await fake('dev');
    const gw = await startGateway(makeConfig({
      device: dev.url, limits: { drain_timeout_s: 1 },
      deviceTimeouts: { first_byte_ms: 20000, idle_ms: 20000, total_ms: 60000 },
    }));
    // The backend answers 1.5 s after the request: after the cut (1 s), before the exit (2 s).
    const waiting = sse(gw.base, chatBody(`${SIMPLE} fake:delay_headers_ms=1500`, { stream: true }));
    await waitFor(async () => (await dev.requests()).length === 1, { what: 'the request at the backend' });
    const exited = exitOf(gw);
    gw.proc.kill('SIGTERM');
    const w = await waiting;
    assert.equal(w.status, 503, w.raw);
    const ex = await exited;
    assert.equal(ex.code, 0, gw.stderrText().slice(-2000));
    const line = gw.stderrText().split('\n').find((l) => l.includes('"msg":"request"') && l.includes('/v1/chat'));
    assert.ok(line, gw.stderrText());
    assert.equal(JSON.parse(line).status, 503, `the request line: ${line}`);
  });

  it('stops at once on a second signal', async () => {
    const dev = await fake('dev');
    const gw = await startGateway(makeConfig({ device: dev.url }));
    const s = streamStarted();
    const streaming = sse(gw.base, chatBody(slow(SIMPLE, 50, 200), { stream: true }), { onData: s.onData });
    await s.started;
    const exited = exitOf(gw);
    gw.proc.kill('SIGTERM');
    await waitFor(() => gw.stderrText().includes('"msg":"draining'), { what: 'draining log line' });
    const t0 = Date.now();
    gw.proc.kill('SIGTERM');
    const ex = await exited;
    assert.equal(ex.code, 0);
    assert.ok(ex.atMs - t0 < scaled(1500), `exited ${ex.atMs - t0} ms after the second signal`);
    const res = await streaming;
    assert.ok(!res.raw.includes('[DONE]'), 'the stream did not complete');
    assert.match(gw.stderrText(), /second stop signal/);
  });
});
