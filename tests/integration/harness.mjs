// Shared helpers of the integration and compatibility tests.
//
// They start the real binaries on ephemeral loopback ports: the simulated model
// server (FAKELLM_BIN) and the gateway (TIERGATE_BIN, with a config written to a
// temporary file), talk HTTP to them with node's own http module, and kill every
// process they started when the test file ends, whether its tests passed or not.
// Only node built-ins are used here.
//
// Two environment variables change how the gateway runs, for tests/valgrind.sh:
//   TIERGATE_WRAPPER     a command line the gateway is started under, e.g.
//                        "valgrind --error-exitcode=99 ..." (split on blanks)
//   TIERGATE_TIME_SCALE  a factor (default 1) for every wait and time limit of
//                        the tests, because a gateway under memcheck runs some
//                        twenty times slower; see scaled()

import { spawn, execFileSync } from 'node:child_process';
import { after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

const here = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.TIERGATE_SOURCE_DIR || path.resolve(here, '..', '..');
export const TIERGATE_BIN = process.env.TIERGATE_BIN || path.join(SOURCE_DIR, 'build', 'tiergate');
export const FAKELLM_BIN = process.env.FAKELLM_BIN || path.join(SOURCE_DIR, 'build', 'fakellm');
const WRAPPER = (process.env.TIERGATE_WRAPPER || '').split(/\s+/).filter(Boolean);
export const TIME_SCALE = Math.max(1, Number(process.env.TIERGATE_TIME_SCALE) || 1);

/** A time limit in ms, stretched by TIERGATE_TIME_SCALE. */
export function scaled(ms) {
  return Math.round(ms * TIME_SCALE);
}

/** Spawns the gateway binary, under TIERGATE_WRAPPER if one is set. */
function spawnGateway(args, options) {
  const argv = [...WRAPPER, TIERGATE_BIN, ...args];
  return spawn(argv[0], argv.slice(1), options);
}
// Test configs live in temporary directories, where the default relative
// model path would find nothing: they name the shipped model absolutely.
export const MODEL_PATH = path.join(SOURCE_DIR, 'config', 'classifier.model');

/* ------------------------------------------------------------------------ */
/* Process bookkeeping: everything spawned here dies with the test file.     */

const live = new Set();
const tmpDirs = new Set();

function track(proc) {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
}

function waitExit(proc, timeoutMs) {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode, timedOut: false });
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ code: null, signal: null, timedOut: true }), timeoutMs);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut: false });
    });
  });
}

/** Kills every process this file started (SIGKILL) and removes temp files. */
export async function killAll() {
  const procs = [...live];
  for (const p of procs) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
  await Promise.all(procs.map((p) => waitExit(p, 5000)));
  for (const d of tmpDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
  }
  tmpDirs.clear();
}

// Registered on the root test of whichever test file imports this module, so it
// runs after all of that file's tests, failed or not.
after(killAll);
// Last resort if the runner dies: never leave a process behind.
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* ignore */ }
  }
});

/** Collects a stream's text and calls onLine for each complete line. */
function lineCollector(stream, onLine) {
  const box = { text: '' };
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (s) => {
    box.text += s;
    pending += s;
    let i;
    while ((i = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, i);
      pending = pending.slice(i + 1);
      onLine(line);
    }
  });
  return box;
}

/* ------------------------------------------------------------------------ */
/* Small utilities.                                                          */

/** A TCP port on 127.0.0.1 where nothing listens (connections are refused). */
export async function unusedPort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Polls fn until it returns a truthy value; throws after timeoutMs. */
export async function waitFor(fn, { timeoutMs: limit = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const timeoutMs = scaled(limit);
  const start = Date.now();
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() - start > timeoutMs) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}

/** The answer the fake gives for a user text (it echoes at most 200 bytes). */
export function answer(label, text) {
  const b = Buffer.from(text, 'utf8');
  let n = b.length;
  if (n > 200) {
    for (n = 200; n > 0 && (b[n] & 0xc0) === 0x80; n--);
  }
  return `[${label} simulated] You said: ${b.subarray(0, n).toString('utf8')}`;
}

/** A one-message chat body. */
export function chatBody(text, extra = {}) {
  return { model: 'auto', messages: [{ role: 'user', content: text }], ...extra };
}

let clkTck = 0;
/** CPU time (s), thread count and RSS (kB) of a process, from /proc. */
export function procUsage(pid) {
  if (!clkTck) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const threads = Number(/^Threads:\s+(\d+)/m.exec(status)[1]);
  const rss = Number((/^VmRSS:\s+(\d+)/m.exec(status) || [0, 0])[1]);
  return { cpuSeconds: (utime + stime) / clkTck, threads, rssKb: rss };
}

/* ------------------------------------------------------------------------ */
/* HTTP.                                                                     */

function encodeBody(body) {
  if (body === undefined || body === null) return null;
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(body), 'utf8');
}

function parseBase(base) {
  const u = new URL(base);
  return { host: u.hostname, port: Number(u.port) };
}

/**
 * One HTTP request.  Resolves {status, headers, text, json, elapsedMs,
 * ttfbMs (until the response's head arrived), socket info};
 * rejects if no complete response arrives within timeoutMs.
 * opts: method, path, body (object | string | Buffer), headers, agent,
 * chunked (send the body with Transfer-Encoding: chunked), timeoutMs,
 * localAddress (e.g. '127.0.0.2': another client address on loopback).
 */
export function request(base, opts = {}) {
  const { method = 'GET', path: p = '/', headers = {}, agent, chunked = false, localAddress } = opts;
  const timeoutMs = scaled(opts.timeoutMs ?? 15000);
  const body = encodeBody(opts.body);
  const { host, port } = parseBase(base);
  const h = { ...headers };
  if (body && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
    h['Content-Type'] = 'application/json';
  }
  if (body && !chunked) h['Content-Length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const req = http.request({ host, port, method, path: p, headers: h, agent: agent ?? false, localAddress });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no complete response to ${method} ${p} within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    req.on('response', (res) => {
      const ttfbMs = Date.now() - started;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (e) => { clearTimeout(timer); reject(e); });
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({
          status: res.statusCode,
          headers: res.headers,
          text,
          json,
          elapsedMs: Date.now() - started,
          ttfbMs,
          localPort: res.socket ? res.socket.localPort : undefined,
          reusedSocket: req.reusedSocket,
        });
      });
    });
    if (body) req.write(body);
    req.end();
  });
}

/** POST /v1/chat/completions (non-streaming use; see sse() for streams). */
export function chat(base, body, opts = {}) {
  return request(base, { ...opts, method: 'POST', path: opts.path || '/v1/chat/completions', body });
}

/** Splits an SSE text into events: [{data, json, comment}] (json undefined if not JSON). */
export function parseSse(raw) {
  const blocks = raw.split('\n\n');
  if (blocks.length && blocks[blocks.length - 1] === '') blocks.pop();
  const events = [];
  for (const block of blocks) {
    const lines = block.split('\n');
    const data = [];
    let comment = true;
    for (const line of lines) {
      if (line.startsWith(':')) continue;
      comment = false;
      if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (comment) continue;
    const d = data.join('\n');
    let json;
    if (d !== '[DONE]') {
      try { json = JSON.parse(d); } catch { json = undefined; }
    }
    events.push({ data: d, json, block });
  }
  return events;
}

/**
 * A streaming request read to its end with node's http module.
 * Resolves {status, headers, raw, events, elapsedMs, ttfbMs, ended, aborted};
 * rejects (with what arrived so far) if it does not end within timeoutMs.
 * opts.onData(rawSoFar, req) is called on every received piece; it may
 * destroy req to simulate a client going away (the promise then resolves
 * with aborted:true).
 */
export function sse(base, body, opts = {}) {
  const { path: p = '/v1/chat/completions', headers = {}, agent, onData } = opts;
  const timeoutMs = scaled(opts.timeoutMs ?? 15000);
  const payload = encodeBody(body);
  const { host, port } = parseBase(base);
  const h = { 'Content-Type': 'application/json', 'Content-Length': String(payload.length), ...headers };
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let raw = '';
    let status;
    let resHeaders;
    let ttfbMs;
    let aborted = false;
    let settled = false;
    const finish = (fn, v) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn(v);
    };
    const req = http.request({ host, port, method: 'POST', path: p, headers: h, agent: agent ?? false });
    const timer = setTimeout(() => {
      const err = new Error(`stream did not end within ${timeoutMs} ms; received so far:\n${raw}`);
      req.destroy();
      finish(reject, err);
    }, timeoutMs);
    const result = (ended) => ({
      status,
      headers: resHeaders,
      raw,
      events: parseSse(raw),
      elapsedMs: Date.now() - started,
      ttfbMs,
      ended,
      aborted,
    });
    req.on('error', (e) => {
      if (aborted) finish(resolve, result(false));
      else finish(reject, e);
    });
    req.on('response', (res) => {
      ttfbMs = Date.now() - started;
      status = res.statusCode;
      resHeaders = res.headers;
      res.setEncoding('utf8');
      res.on('data', (s) => {
        raw += s;
        if (onData) {
          onData(raw, {
            abort: () => { aborted = true; req.destroy(); finish(resolve, result(false)); },
          });
        }
      });
      res.on('end', () => finish(resolve, result(true)));
      // 'aborted'/'close' without 'end': the server cut the response.
      res.on('close', () => finish(resolve, result(res.complete)));
      res.on('error', () => finish(resolve, result(false)));
    });
    req.end(payload);
  });
}

/** Joined delta.content of a stream's chunks. */
export function streamedContent(events) {
  let s = '';
  for (const e of events) {
    const c = e.json && e.json.choices && e.json.choices[0];
    if (c && c.delta && typeof c.delta.content === 'string') s += c.delta.content;
  }
  return s;
}

/* ------------------------------------------------------------------------ */
/* Assertions shared by several files.                                       */

export const TIERGATE_HEADERS = ['x-request-id', 'x-tiergate-tier', 'x-tiergate-backend',
  'x-tiergate-reason', 'x-tiergate-score'];

/** Every response carries the request id and the four routing headers. */
export function assertTieringHeaders(headers, where = '') {
  for (const h of TIERGATE_HEADERS) {
    assert.ok(typeof headers[h] === 'string' && headers[h].length > 0,
      `${where} response lacks header ${h}; got headers ${JSON.stringify(headers)}`);
  }
}

/** An OpenAI-style error body: {"error":{"message","type","param","code"}}. */
export function assertErrorBody(json, where = '') {
  assert.ok(json && typeof json === 'object', `${where} body is not JSON: ${JSON.stringify(json)}`);
  assert.ok(json.error && typeof json.error === 'object', `${where} body has no error object: ${JSON.stringify(json)}`);
  const e = json.error;
  for (const k of ['message', 'type', 'param', 'code']) {
    assert.ok(k in e, `${where} error lacks key "${k}": ${JSON.stringify(json)}`);
  }
  assert.equal(typeof e.message, 'string', `${where} error.message is not a string`);
  assert.ok(e.message.length > 0, `${where} error.message is empty`);
  assert.equal(typeof e.type, 'string', `${where} error.type is not a string`);
  assert.ok(e.param === null || typeof e.param === 'string', `${where} error.param is neither string nor null`);
  assert.ok(e.code === null || typeof e.code === 'string', `${where} error.code is neither string nor null`);
}

/** A complete error response: status, JSON content type, error body, headers. */
export function assertErrorResponse(res, status, where = '') {
  const w = where || `${status}`;
  assert.equal(res.status, status, `${w}: expected status ${status}, got ${res.status}: ${res.text}`);
  assert.match(String(res.headers['content-type']), /^application\/json/,
    `${w}: error content-type is ${res.headers['content-type']}`);
  assertErrorBody(res.json, w);
  assertTieringHeaders(res.headers, w);
}

/**
 * The exact SSE wire format: every event `data: <one-line JSON>\n\n` (comment
 * keepalives `: ...\n\n` tolerated), no `event:` lines.  With done=true the
 * last event is `data: [DONE]\n\n`; with done=false there is no [DONE] at all
 * and the last event is an OpenAI error object.
 */
export function assertSseWire(raw, { done = true } = {}) {
  assert.ok(raw.length > 0, 'empty stream');
  assert.ok(!/^event:/m.test(raw), `stream has an event: line:\n${raw}`);
  assert.ok(raw.endsWith('\n\n'), `stream does not end with a blank line:\n${JSON.stringify(raw.slice(-200))}`);
  const blocks = raw.slice(0, -2).split('\n\n');
  for (const b of blocks) {
    if (b.startsWith(':') && !b.includes('\n')) continue; // keepalive comment
    assert.match(b, /^data: [^\n]+$/, `not a one-line "data: " event: ${JSON.stringify(b)}`);
    const d = b.slice(6);
    if (d !== '[DONE]') {
      assert.doesNotThrow(() => JSON.parse(d), `event data is not JSON: ${d}`);
    }
  }
  const dataBlocks = blocks.filter((b) => b.startsWith('data: '));
  const doneCount = dataBlocks.filter((b) => b === 'data: [DONE]').length;
  if (done) {
    assert.equal(dataBlocks[dataBlocks.length - 1], 'data: [DONE]', `last event is not [DONE]:\n${raw.slice(-400)}`);
    assert.equal(doneCount, 1, 'more than one [DONE]');
  } else {
    assert.equal(doneCount, 0, `stream that failed has a [DONE]:\n${raw}`);
    const last = JSON.parse(dataBlocks[dataBlocks.length - 1].slice(6));
    assert.ok(last.error, `last event of a failed stream is not an error: ${JSON.stringify(last)}`);
    assertErrorBody(last, 'final stream error event');
  }
  return dataBlocks;
}

/* ------------------------------------------------------------------------ */
/* The simulated model server.                                               */

function controlRequest(base, method, p, body) {
  return request(base, { method, path: p, body, timeoutMs: 10000 }).then((res) => {
    if (res.status < 200 || res.status >= 300) {
      throw new Error(`fakellm ${method} ${p} -> ${res.status}: ${res.text}`);
    }
    return res.json;
  });
}

/**
 * Starts fakellm on host (an address of this machine) and a free port.  wrap
 * is a command prefix it runs under, e.g. ["ip", "netns", "exec", NAME] to run
 * it in a network namespace; args are more command-line arguments (e.g.
 * ["--continuation", "prefix"]).  Returns {port, host, base, url (base URL ending
 * /v1), requests(), clear(), setMode(obj), stats(), stop(), proc}.
 */
export async function startFake({ model = 'fake-model', label = 'fake', mode, host = '127.0.0.1', wrap = [], args: extra = [] } = {}) {
  const args = ['--host', host, '--port', '0', '--model', model, '--label', label, '--quiet', ...extra];
  if (mode) args.push('--mode', JSON.stringify(mode));
  const argv = [...wrap, FAKELLM_BIN, ...args];
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  track(proc);
  const err = lineCollector(proc.stderr, () => {});
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fakellm did not print "listening" within 10 s; stderr:\n${err.text}`)), 10000);
    lineCollector(proc.stdout, (line) => {
      const m = /^listening\s+\[?[\d.:a-f]+\]?:(\d+)/.exec(line.trim());
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.once('error', (e) => { clearTimeout(timer); reject(e); });
    proc.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`fakellm exited (${code ?? sig}) before listening; stderr:\n${err.text}`));
    });
  });
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const fake = {
    port,
    host,
    proc,
    base,
    url: `${base}/v1`,
    model,
    label,
    stderrText: () => err.text,
    /** Recorded chat requests, bodies parsed into .json where possible. */
    async requests() {
      const list = await controlRequest(base, 'GET', '/_fake/requests');
      return list.map((r) => {
        let json;
        try { json = JSON.parse(r.body); } catch { json = undefined; }
        return { ...r, json };
      });
    },
    clear: () => controlRequest(base, 'DELETE', '/_fake/requests'),
    setMode: (m) => controlRequest(base, 'POST', '/_fake/mode', m || {}),
    stats: () => controlRequest(base, 'GET', '/_fake/stats'),
    async stop() {
      try { proc.kill('SIGKILL'); } catch { /* gone */ }
      await waitExit(proc, 5000);
    },
    answer: (text) => answer(label, text),
  };
  return fake;
}

/* ------------------------------------------------------------------------ */
/* The gateway.                                                              */

export const DEFAULT_TIMEOUTS = { connect_ms: 200, first_byte_ms: 2000, idle_ms: 2000, total_ms: 20000 };
export const CLOUD_KEY = 'sk-test-cloud-4f1d9c2a7b';

/**
 * A gateway config.  device/cloud/edge are base URLs (e.g. fake.url) or
 * omitted; *Timeouts override DEFAULT_TIMEOUTS; routing/health/limits are
 * merged over the defaults of the tests; extra keys go to the top level.
 */
export function makeConfig({
  device, cloud, edge,
  deviceTimeouts = {}, cloudTimeouts = {}, edgeTimeouts = {},
  routing = {}, health = {}, limits = {}, extra = {},
} = {}) {
  const backends = [];
  if (device) {
    backends.push({ name: 'local', tier: 'device', url: device, model: 'qwen-small', dialect: 'compat',
      timeouts: { ...DEFAULT_TIMEOUTS, ...deviceTimeouts } });
  }
  if (edge) {
    backends.push({ name: 'depot', tier: 'edge', url: edge, model: 'mid-model', dialect: 'compat',
      timeouts: { ...DEFAULT_TIMEOUTS, ...edgeTimeouts } });
  }
  if (cloud) {
    backends.push({ name: 'bigcloud', tier: 'cloud', url: cloud, model: 'big-model',
      api_key_env: 'TEST_CLOUD_KEY', dialect: 'openai',
      timeouts: { ...DEFAULT_TIMEOUTS, ...cloudTimeouts } });
  }
  return {
    listen: '127.0.0.1:0',
    backends,
    routing: { threshold: 0.5, cloud_threshold: 0.75, classifier_model: MODEL_PATH, fallback: true,
      deadline_ms: 30000, ...routing },
    health: { probe_interval_ms: 1000, ...health },
    limits: { max_body_bytes: 1048576, max_connections: 1024, client_timeout_s: 30, ...limits },
    ...extra,
  };
}

function writeConfig(config) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tiergate-test-'));
  tmpDirs.add(dir);
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return file;
}

/**
 * Runs the gateway once with arguments (for --check, --version, --help) and
 * resolves {code, signal, stdout, stderr}.  config, if given, is written to a
 * temp file whose path replaces the string "{config}" in args.
 */
export function runGateway(args, { config, env = {}, timeoutMs = 10000 } = {}) {
  const file = config !== undefined ? writeConfig(config) : null;
  const argv = args.map((a) => (a === '{config}' ? file : a));
  const proc = spawnGateway(argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  track(proc);
  const out = lineCollector(proc.stdout, () => {});
  const err = lineCollector(proc.stderr, () => {});
  return waitExit(proc, scaled(timeoutMs)).then(async (r) => {
    if (r.timedOut) {
      proc.kill('SIGKILL');
      await waitExit(proc, 5000);
    }
    // let the pipes drain
    await sleep(20);
    return { ...r, stdout: out.text, stderr: err.text };
  });
}

/**
 * Starts tiergate with config (an object, written to a temp file) and env
 * added to the environment (TEST_CLOUD_KEY is set by default).  Waits for the
 * "listening" log line and parses the real port from it.  Returns {port,
 * base, proc, pid, configPath, stderrText(), stop()}.
 */
export async function startGateway(config, env = {}, { args = [] } = {}) {
  const file = writeConfig(config);
  const proc = spawnGateway(['--config', file, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TEST_CLOUD_KEY: CLOUD_KEY, ...env },
  });
  track(proc);
  const out = lineCollector(proc.stdout, () => {});
  let onListen;
  const listening = new Promise((resolve) => { onListen = resolve; });
  const err = lineCollector(proc.stderr, (line) => {
    if (line.includes('"msg":"listening"')) {
      const m = /"listen":"([^"]*):(\d+)"/.exec(line);
      if (m) onListen(Number(m[2]));
    }
  });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(
      `tiergate did not log "listening" within ${scaled(10000)} ms; stderr:\n${err.text}`)), scaled(10000));
    listening.then((p) => { clearTimeout(timer); resolve(p); });
    proc.once('error', (e) => { clearTimeout(timer); reject(e); });
    proc.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`tiergate exited (${code ?? sig}) before listening; stderr:\n${err.text}`));
    });
  });
  return {
    port,
    proc,
    pid: proc.pid,
    base: `http://127.0.0.1:${port}`,
    configPath: file,
    stderrText: () => err.text,
    stdoutText: () => out.text,
    /** Sends signal (SIGTERM) and waits; SIGKILL after timeoutMs (scaled). */
    async stop({ signal = 'SIGTERM', timeoutMs = 8000 } = {}) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const r = await waitExit(proc, scaled(timeoutMs));
      if (r.timedOut) {
        proc.kill('SIGKILL');
        await waitExit(proc, 5000);
      }
      await sleep(20);
      return { ...r, stderr: err.text };
    },
  };
}

const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|runtime error:|SUMMARY: \w+Sanitizer/;

/**
 * Stops the gateway with SIGTERM; asserts an orderly exit (0) and no sanitizer
 * report.  Under TIERGATE_WRAPPER the exit code is the wrapper's, so a
 * memcheck error (valgrind --error-exitcode) fails here too.
 */
export async function assertCleanStop(gw) {
  const r = await gw.stop();
  const under = WRAPPER.length ? ` (run under "${WRAPPER.join(' ')}": see its report)` : '';
  assert.equal(r.timedOut, false, `tiergate did not exit within ${scaled(8000)} ms of SIGTERM; stderr tail:\n${r.stderr.slice(-3000)}`);
  assert.ok(!SANITIZER_RE.test(r.stderr), `sanitizer report in tiergate's stderr:\n${r.stderr.slice(-6000)}`);
  assert.equal(r.code, 0, `tiergate exited with ${r.code ?? r.signal} after SIGTERM${under}; stderr tail:\n${r.stderr.slice(-3000)}`);
}

/** The value of one series (its name with labels, as printed) on GET /metrics; undefined when absent. */
export async function metric(gw, name, key) {
  const res = await request(gw.base, { path: '/metrics', headers: key ? { Authorization: `Bearer ${key}` } : {} });
  const m = new RegExp(`^${name.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\d+)$`, 'm').exec(res.text);
  return m ? Number(m[1]) : undefined;
}

/** Polls GET /readyz until its status is want. */
export function waitReadyz(gw, want, timeoutMs = 5000) {
  return waitFor(async () => {
    const r = await request(gw.base, { path: '/readyz', timeoutMs: 2000 });
    return r.status === want ? r : false;
  }, { timeoutMs, what: `GET /readyz -> ${want}` });
}

/** Waits until each fake has answered at least n health probes. */
export async function waitProbes(fakes, n = 1, timeoutMs = 5000) {
  for (const f of fakes) {
    await waitFor(async () => (await f.stats()).probes >= n, { timeoutMs, what: `${n} probe(s) of ${f.label}` });
  }
  // the gateway records the probe's outcome just after the fake answered it
  await sleep(100);
}
