// Backpressure: a stream whose client reads slower than the backend writes.
// The gateway holds at most its per-exchange cap of the answer and pauses the
// upstream transfer; a paused transfer does not trip the backend's idle limit;
// a client that stops reading for longer than limits.client_timeout_s is
// dropped and its upstream transfer cancelled.  The answers are ~11 MB and
// ~110 MB, more than loopback's socket buffers hold, so a gateway without backpressure would
// read the whole answer from the backend while the client sleeps (the fake
// would then finish instead of seeing its client leave).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startFake, startGateway, makeConfig, parseSse, streamedContent, waitFor, assertCleanStop,
} from './harness.mjs';

// The answer: 60 000 characters in as many events, ~11 MB of SSE from the gateway.
const TEXT = 'abcdefghij'.repeat(6000);
const BODY = JSON.stringify({ model: 'device', stream: true, messages: [{ role: 'user', content: 'hi' }] });
const IDLE_MS = 1000;
const CLIENT_TIMEOUT_S = 4;

/** Sends the streamed request on a raw socket; the caller decides how to read. */
function open(port) {
  const sock = net.connect(port, '127.0.0.1');
  sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n`
    + `Content-Length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`);
  sock.on('error', () => {});
  return sock;
}

/** The body of a chunked HTTP response (head stripped, chunk framing removed). */
function dechunk(raw) {
  const head = raw.indexOf('\r\n\r\n');
  let p = head + 4;
  let out = '';
  for (;;) {
    const nl = raw.indexOf('\r\n', p);
    const n = parseInt(raw.slice(p, nl), 16);
    if (!n) break;
    out += raw.slice(nl + 2, nl + 2 + n);
    p = nl + 2 + n + 2;
  }
  return out;
}

describe('backpressure', () => {
  let device;
  let gw;
  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'device' });
    await device.setMode({ reply: TEXT, chunks: TEXT.length });
    gw = await startGateway(makeConfig({
      device: device.url,
      deviceTimeouts: { idle_ms: IDLE_MS, first_byte_ms: 5000, total_ms: 60000 },
      limits: { client_timeout_s: CLIENT_TIMEOUT_S },
    }));
  });
  after(async () => {
    await device.stop();
  });

  it('a slow reader gets the whole answer; the paused transfer outlives the idle limit', async () => {
    const sock = open(gw.port);
    const chunks = [];
    let paused = false;
    const ended = new Promise((resolve) => sock.on('end', resolve));
    sock.on('data', (b) => {
      chunks.push(b);
      if (!paused) {
        // After the first bytes, read nothing for 2.5 idle limits (but well
        // under client_timeout_s): the backend's transfer waits, paused.
        paused = true;
        sock.pause();
        setTimeout(() => sock.resume(), 2.5 * IDLE_MS);
      }
    });
    const timer = setTimeout(() => sock.destroy(), 30000);
    await ended;
    clearTimeout(timer);
    const raw = Buffer.concat(chunks).toString('utf8');
    assert.match(raw, /^HTTP\/1\.1 200/);
    const events = parseSse(dechunk(raw));
    assert.equal(events.filter((e) => e.json && e.json.error).length, 0, 'an error event: the pause tripped a limit');
    assert.equal(events[events.length - 1].data, '[DONE]');
    const content = streamedContent(events);
    assert.equal(content.length, TEXT.length);
    assert.ok(content === TEXT, 'the content differs from what the backend sent');
    sock.destroy();
  });

  it('a client that stops reading is dropped after client_timeout_s, and its transfer cancelled', async () => {
    // Ten times the answer (~110 MB): loopback's autotuned socket buffers on
    // both sides of the gateway (tcp_rmem goes up to 32 MB on some kernels)
    // could hold most of 11 MB, and then the backend finished before the
    // client was dropped, with nothing left to cancel (one run in eight).
    await device.setMode({ reply: TEXT.repeat(10), chunks: 10 * TEXT.length });
    const s0 = await device.stats();
    const sock = open(gw.port);
    let bytes = 0;
    // The first bytes, then nothing: a paused socket reads nothing more, and
    // so does not see the gateway close it either; the fake and the log do.
    sock.on('data', (b) => { bytes += b.length; sock.pause(); });
    try {
      // The backend was still sending (held back by the pause) when the
      // client was dropped: its transfer was cancelled, not finished.
      const s = await waitFor(async () => {
        const st = await device.stats();
        return st.client_closed > s0.client_closed && st.active === 0 ? st : false;
      }, { timeoutMs: (CLIENT_TIMEOUT_S + 6) * 1000, intervalMs: 200, what: 'the fake to see its transfer cancelled' });
      assert.ok(s.client_closed > s0.client_closed);
      assert.ok(bytes > 0);
    } finally {
      sock.destroy();
    }
    await waitFor(() => gw.stderrText().includes('"client_gone":true'), { timeoutMs: 3000, what: 'the request line' });
    const line = gw.stderrText().split('\n').find((l) => l.includes('"msg":"request"') && l.includes('"client_gone":true'));
    assert.ok(!line.includes('"error"'), `the paused transfer failed instead: ${line}`);
  });

  it('stops cleanly', async () => {
    await assertCleanStop(gw);
  });
});
