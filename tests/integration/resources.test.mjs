// Resources: the gateway is event-driven.  With 200 streams waiting on a slow
// upstream it keeps a small, bounded number of threads and spends no CPU while
// it waits (no busy waiting), other requests are not held up, and all 200
// streams complete correctly.  Behaviour, not speed: the bounds are generous.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  startFake, startGateway, makeConfig, chat, sse, chatBody, streamedContent,
  assertSseWire, procUsage, waitFor, sleep, assertCleanStop,
} from './harness.mjs';

const N = 200;
const MAX_THREADS = 8;
const MAX_CPU_S = 0.3;   // over a 2 s window while everything waits

let device;
let cloud;
let gw;

describe('resources', () => {
  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'device' });
    cloud = await startFake({ model: 'big-model', label: 'cloud' });
    gw = await startGateway(makeConfig({
      device: device.url,
      cloud: cloud.url,
      // the device is slow on purpose here: no time-out may fire
      deviceTimeouts: { connect_ms: 1000, first_byte_ms: 20000, idle_ms: 20000, total_ms: 40000 },
      limits: { max_connections: 1024 },
    }));
  });

  it('an idle gateway uses no CPU', async (t) => {
    await sleep(300);
    const a = procUsage(gw.pid);
    await sleep(1500);
    const b = procUsage(gw.pid);
    const used = b.cpuSeconds - a.cpuSeconds;
    t.diagnostic(`idle: ${used.toFixed(3)} s CPU in 1.5 s, ${b.threads} threads`);
    assert.ok(used < 0.1, `idle gateway used ${used.toFixed(3)} s of CPU in 1.5 s`);
    assert.ok(b.threads <= MAX_THREADS, `idle gateway has ${b.threads} threads`);
  });

  it(`${N} concurrent streams on a slow upstream: few threads, no busy waiting, all complete`, async (t) => {
    const s0 = await device.stats();
    // Half wait for their first byte, half are committed and wait between chunks.
    const texts = [];
    for (let i = 0; i < N; i++) {
      texts.push(i % 2 === 0
        ? `what time is it #${i} fake:delay_first_chunk_ms=6000`
        : `open the sunroof please #${i} fake:chunks=1 fake:chunk_delay_ms=2000`);
    }
    const streams = texts.map((t) => sse(gw.base, chatBody(t, { model: 'device', stream: true }), { timeoutMs: 25000 }));
    try {
      await waitFor(async () => (await device.stats()).active >= N,
        { timeoutMs: 15000, intervalMs: 50, what: `${N} upstream requests in flight` });
      const a = procUsage(gw.pid);
      await sleep(2000);
      const b = procUsage(gw.pid);
      assert.ok(a.threads <= MAX_THREADS && b.threads <= MAX_THREADS,
        `the gateway has ${a.threads} then ${b.threads} threads with ${N} open streams (max ${MAX_THREADS})`);
      const used = b.cpuSeconds - a.cpuSeconds;
      t.diagnostic(`${N} waiting streams: ${a.threads}/${b.threads} threads, ${used.toFixed(3)} s CPU in 2 s, RSS ${a.rssKb} kB`);
      assert.ok(used < MAX_CPU_S, `the gateway used ${used.toFixed(3)} s of CPU in 2 s while ${N} streams waited`);
      assert.equal((await device.stats()).active, N, 'upstream requests ended early');

      // Another client is not held up by the waiting streams.
      const t0 = Date.now();
      const other = await chat(gw.base, chatBody('what time is it', { model: 'cloud' }), { timeoutMs: 10000 });
      assert.equal(other.status, 200, other.text);
      assert.equal(other.json.choices[0].message.content, cloud.answer('what time is it'));
      assert.ok(Date.now() - t0 < 2000, `a request to the idle cloud took ${Date.now() - t0} ms while ${N} streams waited`);
    } finally {
      // let every stream finish (or fail) before judging them
      await Promise.allSettled(streams);
    }
    const settled = await Promise.allSettled(streams);
    let bad = 0;
    const firstBad = [];
    settled.forEach((st, i) => {
      if (st.status === 'rejected') {
        bad++;
        if (firstBad.length < 3) firstBad.push(`#${i}: ${st.reason.message.slice(0, 600)}`);
        return;
      }
      const r = st.value;
      let ok = r.status === 200 && r.ended;
      try { assertSseWire(r.raw, { done: true }); } catch { ok = false; }
      ok = ok && streamedContent(r.events) === device.answer(texts[i]);
      if (!ok) {
        bad++;
        if (firstBad.length < 3) firstBad.push(`#${i}: status ${r.status}, raw: ${r.raw.slice(0, 600)}`);
      }
    });
    assert.equal(bad, 0, `${bad} of ${N} streams did not complete correctly:\n${firstBad.join('\n')}`);
    const s1 = await device.stats();
    assert.equal(s1.requests - s0.requests, N, 'each stream should cause exactly one upstream request');
    assert.equal(s1.active, 0);
  });

  it('the gateway still serves and has released its streams', async () => {
    const r = await chat(gw.base, chatBody('what time is it', { model: 'device' }));
    assert.equal(r.status, 200);
    const u = procUsage(gw.pid);
    assert.ok(u.threads <= MAX_THREADS, `${u.threads} threads after the streams ended`);
  });

  it('a client that stops sending mid-request is dropped after limits.client_timeout_s', async () => {
    const g = await startGateway(makeConfig({ device: device.url, cloud: cloud.url, limits: { client_timeout_s: 1 } }));
    try {
      const closedAfter = (payload) => new Promise((resolve, reject) => {
        const t0 = Date.now();
        const sock = net.connect(g.port, '127.0.0.1', () => { if (payload) sock.write(payload); });
        const timer = setTimeout(() => { sock.destroy(); reject(new Error('connection still open after 6 s')); }, 6000);
        sock.on('data', () => {});
        sock.on('error', () => {});
        sock.on('close', () => { clearTimeout(timer); resolve(Date.now() - t0); });
      });
      const partial = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
        + 'Content-Length: 500\r\n\r\n{"model":"auto","messages":[{"role":"user","content":"slowloris-marker';
      const [a, b] = await Promise.all([closedAfter(partial), closedAfter('')]);
      assert.ok(a < 6000 && b < 6000);
      // and the gateway goes on serving
      const r = await chat(g.base, chatBody('what time is it', { model: 'device' }));
      assert.equal(r.status, 200);
      assert.equal((await device.requests()).filter((q) => q.body.includes('slowloris-marker')).length, 0);
    } finally {
      await g.stop();
    }
  });

  it('stops cleanly on SIGTERM', async () => {
    await assertCleanStop(gw);
  });
});
