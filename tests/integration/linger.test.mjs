// An over-limit body and a client still sending it: the gateway reads and
// throws away the rest of the body (within a bound) before its 413, so the
// client, which reads only after it has sent everything, gets the 413 rather
// than a reset.  A body far past the bound, or one announced with
// "Expect: 100-continue", gets its 413 at once, unread.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startFake, startGateway, makeConfig, assertCleanStop } from './harness.mjs';

const MAX_BODY = 65536;
const LINGER = 4 * 1024 * 1024;     // SERVER_LINGER_BYTES

/**
 * Sends head and then bodyLen bytes in 64 KiB pieces a millisecond apart
 * (a client on a real link is still sending when an early answer comes),
 * and only then reads; resolves {text, error}: what came back before the end or
 * the error (ECONNRESET when the answer was lost).
 */
function sendThenRead(port, head, bodyLen) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const got = [];
    let error = null;
    let sent = false;
    sock.pause();
    sock.on('data', (b) => got.push(b));
    sock.on('error', (e) => { error = e.code || String(e); });
    sock.on('close', () => resolve({ text: Buffer.concat(got).toString('utf8'), error, sent }));
    const timer = setTimeout(() => sock.destroy(), 20000);
    sock.on('close', () => clearTimeout(timer));
    sock.write(head);
    const piece = Buffer.alloc(65536, 'x');
    let left = bodyLen;
    const pump = () => {
      if (sock.destroyed) return;
      if (left > 0) {
        const n = Math.min(left, piece.length);
        left -= n;
        sock.write(n === piece.length ? piece : piece.subarray(0, n), () => setTimeout(pump, 1));
        return;
      }
      sent = true;
      sock.resume();
    };
    pump();
  });
}

const head = (len, extra = '') => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n`
  + `Content-Type: application/json\r\nContent-Length: ${len}\r\nConnection: close\r\n${extra}\r\n`;

describe('over-limit bodies: the 413 reaches a client still sending', () => {
  let fake;
  let gw;
  before(async () => {
    fake = await startFake({ label: 'device' });
    gw = await startGateway(makeConfig({ device: fake.url, limits: { max_body_bytes: MAX_BODY } }));
  });
  after(async () => { await fake.stop(); });

  it('a 3 MB body sent in pieces is read to its end and answered 413', async () => {
    const len = 3 * 1024 * 1024;
    const r = await sendThenRead(gw.port, head(len), len);
    assert.equal(r.sent, true, `the send failed: ${r.error}`);
    assert.match(r.text, /^HTTP\/1\.1 413 /, `no 413 (error: ${r.error})`);
    assert.match(r.text, /"code":"request_too_large"/);
  });

  it('a body past the bound is answered at once, unread', async () => {
    const len = MAX_BODY + LINGER + 1;
    const r = await sendThenRead(gw.port, head(len, 'Expect: 100-continue\r\n'), 0);
    assert.match(r.text, /^HTTP\/1\.1 413 /);
    assert.doesNotMatch(r.text, /100 Continue/);
  });

  it('the gateway goes on serving, and stops cleanly', async () => {
    const r = await sendThenRead(gw.port, `${head(2)}{}`, 0);
    assert.match(r.text, /^HTTP\/1\.1 400 /);
    await assertCleanStop(gw);
  });
});
