// Hostile requests and hostile clients (issue 8).  Every case gets the status
// docs/security.md documents, and meanwhile a well-behaved client (its own key,
// its own address 127.0.0.2) is served: one bad client never costs the others.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  startFake, startGateway, makeConfig, chat, request, chatBody, sleep, waitFor,
  assertErrorResponse, assertCleanStop,
} from './harness.mjs';

const GOOD_KEY = 'tg-good-0123456789abcdef';
const BAD_KEY = 'tg-rude-fedcba9876543210';
const KEYS = `good:${GOOD_KEY},rude:${BAD_KEY}`;
const rude = { Authorization: `Bearer ${BAD_KEY}` };

const LIMITS = {
  max_body_bytes: 65536,
  max_json_depth: 16,
  max_messages: 8,
  max_message_chars: 2000,
  max_header_bytes: 16384,
  client_timeout_s: 30,
  request_timeout_s: 3,
  max_inflight_per_key: 2,
};

let device;
let cloud;
let gw;

/** A request of the well-behaved client; must be a 200 from the device. */
async function bystander() {
  const res = await chat(gw.base, chatBody('turn on the seat heating'), {
    headers: { Authorization: `Bearer ${GOOD_KEY}` }, localAddress: '127.0.0.2',
  });
  assert.equal(res.status, 200, `the well-behaved client got ${res.status}: ${res.text}`);
}

/** Runs the hostile action and the bystander together; returns the action's result. */
async function alongside(action) {
  const [r] = await Promise.all([action(), bystander()]);
  return r;
}

/** A raw connection; resolves {socket, closed} where closed resolves to the ms it lived. */
function rawConnect(port) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    const closed = new Promise((res) => socket.once('close', () => res(Date.now() - started)));
    socket.on('data', (d) => { data += d.toString('latin1'); });
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, closed, data: () => data }));
    socket.once('error', reject);
  });
}

/** Writes text one byte every intervalMs until the socket closes or text ends. */
async function dribble(socket, text, intervalMs) {
  for (const ch of text) {
    if (socket.destroyed || socket.writableEnded) return;
    socket.write(ch);
    await sleep(intervalMs);
  }
}

const user = [{ role: 'user', content: 'open the sunroof' }];
const raw = (s) => Buffer.from(s, 'latin1');

// name -> [body, status, error code or null]
const CASES = {
  'truncated JSON': ['{"model":"auto","messages":[{"role":"user","content":"hi', 400, 'invalid_json'],
  'empty object': ['{}', 400, null],
  'deeply nested (17 > max_json_depth 16)': [
    `{"model":"auto","messages":[{"role":"user","content":"x"}],"metadata":${'{"a":'.repeat(16)}1${'}'.repeat(16)}}`,
    400, 'nesting_too_deep'],
  'deeply nested (100000 levels)': [`{"model":"auto","messages":${'['.repeat(100000)}${']'.repeat(100000)}}`,
    413, 'request_too_large'],
  'deeply nested (20000 levels, under the body limit)': [`${'['.repeat(20000)}${']'.repeat(20000)}`,
    400, 'nesting_too_deep'],
  'invalid UTF-8': [Buffer.concat([raw('{"model":"auto","messages":[{"role":"user","content":"'),
    Buffer.from([0xed, 0xa0, 0x80]), raw('"}]}')]), 400, 'invalid_utf8'],
  'NUL byte in the raw body': [Buffer.concat([raw('{"model":"auto","messages":[{"role":"user","content":"a'),
    Buffer.from([0]), raw('b"}]}')]), 400, null],
  'NUL escape in a string': ['{"model":"auto","messages":[{"role":"user","content":"a\\u0000b"}]}', 400, null],
  'huge number max_tokens 1e400': [`{"model":"auto","messages":${JSON.stringify(user)},"max_tokens":1e400}`, 400, null],
  'max_tokens 9007199254740993': [`{"model":"auto","messages":${JSON.stringify(user)},"max_tokens":9007199254740993}`, 400, null],
  'temperature -1e309': [`{"model":"auto","messages":${JSON.stringify(user)},"temperature":-1e309}`, 400, null],
  'wrong type: messages a number': [{ model: 'auto', messages: 5 }, 400, null],
  'wrong type: content an object': [{ model: 'auto', messages: [{ role: 'user', content: { a: 1 } }] }, 400, null],
  'wrong type: stream a string': [{ model: 'auto', messages: user, stream: 'true' }, 400, null],
  'duplicate keys': ['{"model":"auto","model":"auto","messages":[{"role":"user","content":"hi"}]}', 400, null],
  'duplicate keys in a message': ['{"model":"auto","messages":[{"role":"user","role":"system","content":"hi"}]}', 400, null],
  'too many messages (9 > 8)': [{ model: 'auto', messages: Array(9).fill(user[0]) }, 400, 'too_many_messages'],
  'too many characters (2001 > 2000)': [chatBody('é'.repeat(2001)), 400, 'messages_too_long'],
  'oversized body (70 KB > 64 KiB)': [chatBody('x'.repeat(70000)), 413, 'request_too_large'],
};

describe('hostile requests', () => {
  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'device' });
    cloud = await startFake({ model: 'big-model', label: 'cloud' });
    gw = await startGateway(makeConfig({ device: device.url, cloud: cloud.url, limits: LIMITS,
      extra: { auth: { keys_env: 'TEST_CLIENT_KEYS' } } }), { TEST_CLIENT_KEYS: KEYS });
  });

  for (const [name, [body, status, code]] of Object.entries(CASES)) {
    it(`${status} for ${name}`, async () => {
      const res = await alongside(() => chat(gw.base, body, { headers: rude }));
      assertErrorResponse(res, status, name);
      if (code) assert.equal(res.json.error.code, code, `${name}: ${res.text}`);
    });
  }

  it('16 levels of nesting pass', async () => {
    const body = `{"model":"auto","messages":[{"role":"user","content":"x"}],"metadata":${'{"a":'.repeat(15)}1${'}'.repeat(15)}}`;
    assert.equal((await chat(gw.base, body, { headers: rude })).status, 200);
  });

  it('the limits are exact: 8 messages and 2000 characters pass', async () => {
    const ok = await chat(gw.base, { model: 'auto', messages: [...Array(7).fill(user[0]), { role: 'user', content: 'é'.repeat(2000 - 7 * 16) }] },
      { headers: rude });
    assert.equal(ok.status, 200, ok.text);
  });

  it('431 for headers larger than max_header_bytes', async () => {
    const res = await alongside(() => chat(gw.base, chatBody('hi'), { headers: { ...rude, 'X-Junk': 'j'.repeat(20000) } }));
    assert.equal(res.status, 431, `got ${res.status}: ${res.text}`);
  });

  it('401 invalid_api_key without a key, with a wrong key, or with a key as a prefix', async () => {
    for (const headers of [{}, { Authorization: 'Bearer tg-nope-0000000000000000' },
      { Authorization: `Bearer ${GOOD_KEY.slice(0, -1)}` }, { Authorization: `Bearer ${GOOD_KEY}x` },
      { Authorization: `Basic ${GOOD_KEY}` }]) {
      const res = await alongside(() => chat(gw.base, chatBody('hi'), { headers }));
      assertErrorResponse(res, 401, JSON.stringify(headers));
      assert.equal(res.json.error.code, 'invalid_api_key');
      assert.equal(res.headers['www-authenticate'], 'Bearer');
    }
  });

  it('health checks need no key', async () => {
    assert.equal((await request(gw.base, { path: '/healthz' })).status, 200);
    assert.equal((await request(gw.base, { path: '/v1/models' })).status, 401);
  });

  it('a body cut off before its Content-Length is dropped', async () => {
    await alongside(async () => {
      const c = await rawConnect(gw.port);
      c.socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${BAD_KEY}\r\n`
        + 'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":"auto","mess');
      await sleep(100);
      c.socket.destroy();
    });
  });

  it('slowloris headers (a byte every 400 ms) are cut at request_timeout_s while others are served', async () => {
    const c = await rawConnect(gw.port);
    const hdr = 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200) + '\r\n\r\n';
    dribble(c.socket, hdr, 400);
    for (let i = 0; i < 3; i++) { await bystander(); await sleep(300); }
    const lived = await c.closed;
    assert.ok(lived >= 2500 && lived < 8000, `slow header connection lived ${lived} ms`);
    assert.equal(c.data(), '', 'the slow client got an answer');
  });

  it('slowloris body (a byte every 400 ms) is cut at request_timeout_s while others are served', async () => {
    const c = await rawConnect(gw.port);
    const body = JSON.stringify(chatBody('slow'));
    c.socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${BAD_KEY}\r\n`
      + `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    dribble(c.socket, body, 400);
    for (let i = 0; i < 3; i++) { await bystander(); await sleep(300); }
    const lived = await c.closed;
    assert.ok(lived >= 2500 && lived < 8000, `slow body connection lived ${lived} ms`);
  });

  it('429 with Retry-After beyond max_inflight_per_key, other keys unaffected', async () => {
    await device.setMode({ delay_headers_ms: 1500 });
    try {
      const slow = [chat(gw.base, chatBody('one'), { headers: rude }), chat(gw.base, chatBody('two'), { headers: rude })];
      await sleep(300);
      const third = await chat(gw.base, chatBody('three'), { headers: rude });
      assertErrorResponse(third, 429, 'third in flight');
      assert.equal(third.json.error.code, 'rate_limit_exceeded');
      assert.ok(third.headers['retry-after'], 'no Retry-After');
      await bystander();
      for (const r of await Promise.all(slow)) assert.equal(r.status, 200, r.text);
      assert.equal((await chat(gw.base, chatBody('after'), { headers: rude })).status, 200, 'the key was not released');
    } finally {
      await device.setMode({});
    }
  });

  it('a URL with malformed UTF-8 gets a 404 and a request line that is valid UTF-8 JSON', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tiergate-utf8-'));
    const file = path.join(dir, 'requests.log');
    const g = await startGateway(makeConfig({ device: device.url, extra: { log: { file } } }));
    try {
      // %FF and %FE decode to bytes that are not UTF-8; %22 and %0A to a quote and a newline.
      const res = await request(g.base, { path: '/v1/%FF%FE%22x%0A' });
      assertErrorResponse(res, 404, 'malformed path');
      await waitFor(() => fs.existsSync(file) && fs.readFileSync(file).includes('"status":404'), { what: 'the request line' });
      const text = new TextDecoder('utf-8', { fatal: true }).decode(fs.readFileSync(file));  // throws on malformed UTF-8
      const line = text.split('\n').find((l) => l.includes('"status":404'));
      assert.equal(JSON.parse(line).path, '/v1/\uFFFD\uFFFD"x\n');
      await assertCleanStop(g);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the log names the client key, never the key', async () => {
    const log = gw.stderrText();
    assert.match(log, /"client":"good"/);
    assert.match(log, /"client":"rude"/);
    assert.ok(!log.includes(GOOD_KEY) && !log.includes(BAD_KEY), 'a client key is in the log');
  });

  it('stops cleanly on SIGTERM', async () => {
    await assertCleanStop(gw);
  });
});

describe('thousands of connections', () => {
  let g;
  const sockets = [];
  before(async () => {
    g = await startGateway(makeConfig({ device: device.url, limits: {
      max_connections: 600, max_connections_per_ip: 400, client_timeout_s: 4, request_timeout_s: 4 } }));
  });
  after(() => { for (const s of sockets) s.destroy(); });

  it('2000 idle connections: the excess is refused, the gateway serves another address, then everyone', async () => {
    let opened = 0;
    let closedEarly = 0;
    let refused = 0;
    await Promise.all(Array.from({ length: 2000 }, () => new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: g.port });
      sockets.push(s);
      const t0 = Date.now();
      s.once('connect', () => { opened++; resolve(); });
      s.once('close', () => { if (Date.now() - t0 < 2000) closedEarly++; });
      s.once('error', () => { refused++; resolve(); });
    })));
    await sleep(500);
    assert.ok(opened + refused === 2000, `${opened} + ${refused}`);
    // Beyond the per-address limit MHD closes at once (or the test ran out of descriptors).
    assert.ok(closedEarly + refused >= 2000 - 400 - 50, `only ${closedEarly} closed and ${refused} refused`);
    const other = await chat(g.base, chatBody('hello from elsewhere'), { localAddress: '127.0.0.2' });
    assert.equal(other.status, 200, other.text);
    // The idle ones are cut by the timeouts; then this address is served again.
    await waitFor(async () => (await chat(g.base, chatBody('hello again'), { timeoutMs: 2000 })).status === 200,
      { timeoutMs: 12000, what: 'a request from 127.0.0.1 after the flood' });
  });

  it('stops cleanly on SIGTERM', async () => {
    await assertCleanStop(g);
  });
});
