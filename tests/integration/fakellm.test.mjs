// The simulated model server's own contract for continuing an answer (issue
// 15): each continuation dialect, the faults that refuse or restart one, the
// knobs that split and cut a stream at byte positions, and the request log
// the gateway's tests will assert on.  It talks to fakellm directly over
// loopback, so a gateway bug cannot hide a fake one.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import {
  startFake, chat, sse, parseSse, streamedContent, request, FAKELLM_BIN, scaled,
} from './harness.mjs';

const DIALECTS = ['prefill', 'prefix', 'partial', 'continue_final_message'];
const TEXT = 'Grüße aus Köln, ruf ⟨PHONE_1⟩ an — 東京 🚗 ok';

/** The request body a dialect uses to continue `prefix` after `text`. */
function contBody(dialect, text, prefix, extra = {}) {
  const last = { role: 'assistant', content: prefix };
  if (dialect === 'prefix') last.prefix = true;
  if (dialect === 'partial') last.partial = true;
  const body = { model: 'm', messages: [{ role: 'user', content: text }, last], ...extra };
  if (dialect === 'continue_final_message') {
    body.continue_final_message = true;
    body.add_generation_prompt = false;
  }
  return body;
}

/** The path a dialect posts to: DeepSeek's prefix lives under /beta/. */
const pathOf = (dialect) => (dialect === 'prefix' ? '/beta/chat/completions' : '/v1/chat/completions');

/** The first n bytes of s, n at a character start. */
function bytePrefix(s, n) {
  const b = Buffer.from(s, 'utf8');
  assert.ok(n === b.length || (b[n] & 0xc0) !== 0x80, `byte ${n} is inside a character`);
  return b.subarray(0, n).toString('utf8');
}

/** The last recorded request of a fake. */
async function lastRecord(fake) {
  const list = await fake.requests();
  assert.ok(list.length > 0, 'the fake recorded no request');
  return list[list.length - 1];
}

/** Checks a 400 is in the error shape of the dialect's provider. */
function assertRefusalShape(res, dialect, where) {
  assert.equal(res.status, 400, `${where}: ${res.text}`);
  const e = res.json && res.json.error;
  assert.ok(e && typeof e.message === 'string' && e.message.length > 0, `${where}: ${res.text}`);
  if (dialect === 'prefill') {
    assert.equal(e.code, 400, `${where}: llama.cpp's code is the status`);
    assert.equal(e.type, 'invalid_request_error');
    assert.ok(!('param' in e), `${where}: llama.cpp sends no param`);
  } else if (dialect === 'continue_final_message') {
    assert.equal(e.type, 'BadRequestError', where);
    assert.equal(e.code, 400, where);
  } else if (dialect === 'prefix') {
    assert.equal(e.code, 'invalid_request_error', where);
  } else if (dialect === 'partial') {
    assert.equal(e.code, 'invalid_parameter_error', where);
    assert.equal(typeof res.json.request_id, 'string', `${where}: DashScope's request_id`);
  } else {
    assert.equal(e.code, null, where);
    assert.equal(e.param, null, where);
  }
}

/**
 * A raw HTTP exchange: the request bytes in, every byte until the server
 * closes or resets out, so an end in the middle of a chunk is seen as is.
 */
function rawExchange(port, body, path = '/v1/chat/completions') {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body), 'utf8');
    const sock = net.connect(port, '127.0.0.1');
    const parts = [];
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('no end within 10 s')); }, scaled(10000));
    sock.on('connect', () => {
      sock.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n`
        + `Content-Length: ${payload.length}\r\nConnection: close\r\n\r\n`);
      sock.write(payload);
    });
    sock.on('data', (d) => parts.push(d));
    sock.on('error', () => { /* a reset: what arrived is the result */ });
    sock.on('close', () => { clearTimeout(timer); resolve({ bytes: Buffer.concat(parts) }); });
  });
}

/** The body of a chunked response as received: {body, announced, complete}. */
function dechunk(bytes) {
  const head = bytes.indexOf('\r\n\r\n');
  assert.ok(head > 0, `no header block in ${bytes.toString('latin1')}`);
  let at = head + 4;
  const pieces = [];
  let announced = 0;
  for (;;) {
    const eol = bytes.indexOf('\r\n', at);
    if (eol < 0) return { body: Buffer.concat(pieces), announced, complete: false };
    const size = parseInt(bytes.subarray(at, eol).toString('latin1'), 16);
    if (size === 0) return { body: Buffer.concat(pieces), announced, complete: true };
    announced += size;
    const data = bytes.subarray(eol + 2, Math.min(eol + 2 + size, bytes.length));
    pieces.push(data);
    if (data.length < size) return { body: Buffer.concat(pieces), announced, complete: false };
    at = eol + 2 + size + 2;
  }
}

describe('fakellm continuation dialects', () => {
  const fakes = {};
  let full;

  before(async () => {
    for (const d of [...DIALECTS, 'none']) {
      fakes[d] = await startFake({ label: 'fake', args: ['--continuation', d] });
    }
    const res = await chat(fakes.prefill.base, { model: 'm', messages: [{ role: 'user', content: TEXT }] });
    assert.equal(res.status, 200, res.text);
    full = res.json.choices[0].message.content;
    assert.equal(full, fakes.prefill.answer(TEXT));
  });

  for (const d of DIALECTS) {
    it(`${d}: the answer is exactly the rest of the full answer, plain and streamed`, async () => {
      const fake = fakes[d];
      const bytes = Buffer.byteLength(full);
      // Cuts before, inside and after the multi-byte text, and at both ends.
      for (const n of [0, 1, 27, 29, 33, bytes - 7, bytes - 3, bytes]) {
        const prefix = bytePrefix(full, n);
        const rest = Buffer.from(full, 'utf8').subarray(n).toString('utf8');
        const res = await chat(fake.base, contBody(d, TEXT, prefix), { path: pathOf(d) });
        assert.equal(res.status, 200, `${d} at ${n}: ${res.text}`);
        const got = res.json.choices[0].message.content;
        assert.equal(got, rest, `${d} at ${n}`);
        assert.ok(Buffer.from(prefix + got).equals(Buffer.from(full)), `${d} at ${n}: prefix + rest != full`);
        const rec = await lastRecord(fake);
        assert.deepEqual(rec.continuation, { dialect: d, prefix, outcome: 'continued', from: n });

        const st = await sse(fake.base, contBody(d, TEXT, prefix, { stream: true }), { path: pathOf(d) });
        assert.equal(st.status, 200, st.raw);
        assert.ok(st.ended && st.events.at(-1).data === '[DONE]', `${d} at ${n}: stream did not end`);
        assert.equal(streamedContent(st.events), rest, `${d} at ${n}: streamed`);
      }
    });
  }

  it('a request without a trailing assistant message is no continuation, in every dialect', async () => {
    for (const d of [...DIALECTS, 'none']) {
      const res = await chat(fakes[d].base, { model: 'm', messages: [{ role: 'user', content: TEXT }] });
      assert.equal(res.json.choices[0].message.content, full, d);
      assert.equal((await lastRecord(fakes[d])).continuation, null, d);
    }
  });

  it('a fake refuses every other dialect with its provider\'s 400, and logs why', async () => {
    const prefix = bytePrefix(full, 20);
    for (const d of DIALECTS) {
      for (const other of DIALECTS.filter((x) => x !== d)) {
        const res = await chat(fakes[d].base, contBody(other, TEXT, prefix), { path: pathOf(d) });
        assertRefusalShape(res, d, `${d} asked in ${other}`);
        const rec = await lastRecord(fakes[d]);
        assert.equal(rec.continuation.dialect, other);
        assert.equal(rec.continuation.outcome, 'refused');
        assert.equal(rec.continuation.error, res.json.error.message);
      }
    }
  });

  it('none: markers are unknown arguments; a plain trailing assistant message is history', async () => {
    const prefix = bytePrefix(full, 20);
    for (const other of ['prefix', 'partial', 'continue_final_message']) {
      const res = await chat(fakes.none.base, contBody(other, TEXT, prefix));
      assertRefusalShape(res, 'none', `none asked in ${other}`);
    }
    const res = await chat(fakes.none.base, contBody('prefill', TEXT, prefix));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.choices[0].message.content, full, 'the answer starts over');
    assert.equal((await lastRecord(fakes.none)).continuation.outcome, 'fresh');
  });

  it('prefix: only under /beta/, and a trailing assistant message needs the marker', async () => {
    const prefix = bytePrefix(full, 20);
    let res = await chat(fakes.prefix.base, contBody('prefix', TEXT, prefix));
    assertRefusalShape(res, 'prefix', 'prefix at /v1');
    assert.match(res.json.error.message, /beta api/);
    res = await chat(fakes.prefix.base, contBody('prefill', TEXT, prefix), { path: '/beta/chat/completions' });
    assertRefusalShape(res, 'prefix', 'no marker');
    assert.match(res.json.error.message, /prefix mode on/);
  });

  it('continue_final_message: refused unless add_generation_prompt is false, or without a final assistant message', async () => {
    const prefix = bytePrefix(full, 20);
    const body = contBody('continue_final_message', TEXT, prefix);
    delete body.add_generation_prompt;
    let res = await chat(fakes.continue_final_message.base, body);
    assertRefusalShape(res, 'continue_final_message', 'add_generation_prompt left at its default');
    assert.match(res.json.error.message, /Cannot set both/);
    res = await chat(fakes.continue_final_message.base, {
      model: 'm', messages: [{ role: 'user', content: TEXT }], continue_final_message: true, add_generation_prompt: false,
    });
    assertRefusalShape(res, 'continue_final_message', 'no final assistant message');
    assert.equal((await lastRecord(fakes.continue_final_message)).continuation.prefix, null);
  });

  it('prefill: llama-server\'s refusals (thinking, tool calls, two assistant messages)', async () => {
    const prefix = bytePrefix(full, 20);
    const cases = [
      [contBody('prefill', TEXT, prefix, { chat_template_kwargs: { enable_thinking: true } }), /enable_thinking/],
      [{ model: 'm', messages: [{ role: 'user', content: TEXT },
        { role: 'assistant', content: prefix, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] }] },
      /tool calls/],
      [{ model: 'm', messages: [{ role: 'user', content: TEXT }, { role: 'assistant', content: 'a' },
        { role: 'assistant', content: prefix }] }, /2 or more assistant messages/],
    ];
    for (const [body, why] of cases) {
      const res = await chat(fakes.prefill.base, body);
      assertRefusalShape(res, 'prefill', String(why));
      assert.match(res.json.error.message, why);
    }
  });

  it('a request token chooses the dialect for one request', async () => {
    const text = `${TEXT} fake:dialect=partial`;
    const want = fakes.prefill.answer(text);
    const prefix = bytePrefix(want, 29);
    const res = await chat(fakes.prefill.base, contBody('partial', text, prefix));
    assert.equal(res.status, 200, res.text);
    assert.equal(prefix + res.json.choices[0].message.content, want);
    assertRefusalShape(await chat(fakes.prefill.base, contBody('prefill', text, prefix)), 'partial', 'token dialect');
  });

  it('the mode chooses the dialect too, and a bad one is refused', async () => {
    const fake = fakes.prefill;
    await assert.rejects(fake.setMode({ dialect: 'klingon' }), /dialect.*must be/);
    await fake.setMode({ dialect: 'continue_final_message' });
    try {
      const prefix = bytePrefix(full, 12);
      const res = await chat(fake.base, contBody('continue_final_message', TEXT, prefix));
      assert.equal(res.status, 200, res.text);
      assert.equal(prefix + res.json.choices[0].message.content, full);
    } finally {
      await fake.setMode({});
    }
  });

  it('--continuation refuses an unknown dialect', () => {
    const r = spawnSync(FAKELLM_BIN, ['--port', '0', '--continuation', 'klingon'], { timeout: scaled(5000) });
    assert.equal(r.status, 2, String(r.stderr));
    assert.match(String(r.stderr), /bad --continuation 'klingon'/);
  });

  it('a prefix that does not begin the answer is answered from the start', async () => {
    const res = await chat(fakes.partial.base, contBody('partial', TEXT, '[cloud simulated] You sa'));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.choices[0].message.content, full);
    assert.equal((await lastRecord(fakes.partial)).continuation.outcome, 'unmatched');
  });

  describe('continuation faults', () => {
    for (const d of DIALECTS) {
      it(`${d}: continuation=reject answers the provider's 400, plain and streamed`, async () => {
        const text = `${TEXT} fake:continuation=reject`;
        const prefix = bytePrefix(fakes[d].answer(text), 20);
        for (const stream of [false, true]) {
          const res = await chat(fakes[d].base, contBody(d, text, prefix, { stream }), { path: pathOf(d) });
          assertRefusalShape(res, d, `reject, stream ${stream}`);
          const rec = await lastRecord(fakes[d]);
          assert.equal(rec.continuation.outcome, 'rejected');
        }
        // A fresh request with the same token is no continuation: answered.
        const res = await chat(fakes[d].base, { model: 'm', messages: [{ role: 'user', content: text }] },
          { path: pathOf(d) });
        assert.equal(res.status, 200, res.text);
      });
    }

    it('continuation=restart ignores the prefix and starts the answer over', async () => {
      const text = `${TEXT} fake:continuation=restart`;
      const want = fakes.prefix.answer(text);
      const prefix = bytePrefix(want, 25);
      const res = await chat(fakes.prefix.base, contBody('prefix', text, prefix), { path: pathOf('prefix') });
      assert.equal(res.json.choices[0].message.content, want);
      const st = await sse(fakes.prefix.base, contBody('prefix', text, prefix, { stream: true }), { path: pathOf('prefix') });
      assert.equal(streamedContent(st.events), want);
      const rec = await lastRecord(fakes.prefix);
      assert.deepEqual(rec.continuation, { dialect: 'prefix', prefix, outcome: 'restarted', from: 0 });
    });

    it('continuation=trim continues after the prefix without its trailing whitespace', async () => {
      const text = `${TEXT} fake:continuation=trim`;
      const want = fakes.prefill.answer(text);
      const prefix = '[fake simulated] You ';
      assert.ok(want.startsWith(prefix));
      const res = await chat(fakes.prefill.base, contBody('prefill', text, prefix));
      assert.equal(res.json.choices[0].message.content, want.slice(prefix.length - 1));
      assert.equal(prefix + res.json.choices[0].message.content, `[fake simulated] You  said: ${text}`);
      assert.equal((await lastRecord(fakes.prefill)).continuation.outcome, 'trimmed');
    });

    it('a per-request cut_after cuts a continued stream after that many chunks of the rest', async () => {
      const text = `${TEXT} fake:cut_after=2 fake:chunks=4`;
      const want = fakes.partial.answer(text);
      const prefix = bytePrefix(want, 17);
      // Read raw: the reset may reach node's http before the response does.
      const got = dechunk((await rawExchange(fakes.partial.port, contBody('partial', text, prefix, { stream: true }))).bytes);
      assert.equal(got.complete, false, 'the stream was cut');
      const events = parseSse(got.body.toString('utf8'));
      const content = streamedContent(events);
      assert.ok(content.length > 0 && want.slice(prefix.length).startsWith(content), `got ${JSON.stringify(content)}`);
      assert.ok(content.length < want.length - prefix.length, 'only part of the rest arrived');
      assert.ok(!events.some((e) => e.data === '[DONE]'));
    });
  });

  describe('byte-level knobs', () => {
    it('chunk_bytes splits content into N-byte deltas carried to character starts, placeholders split', async () => {
      const text = `${TEXT} fake:chunk_bytes=3`;
      const want = fakes.prefill.answer(text);
      const st = await sse(fakes.prefill.base, { model: 'm', stream: true, messages: [{ role: 'user', content: text }] });
      const deltas = st.events.map((e) => e.json && e.json.choices[0] && e.json.choices[0].delta.content)
        .filter((c) => typeof c === 'string' && c !== '');
      assert.equal(deltas.join(''), want);
      for (const d of deltas) {
        const n = Buffer.byteLength(d);
        assert.ok(n >= 1 && n <= 3 + 3, `delta ${JSON.stringify(d)} has ${n} bytes`);
        assert.ok(!d.includes('\uFFFD'), `delta ${JSON.stringify(d)} holds a broken character`);
      }
      assert.ok(deltas.filter((d) => Buffer.byteLength(d) === 3).length > deltas.length / 2);
      // The placeholder arrives in pieces: no delta holds it whole.
      assert.ok(!deltas.some((d) => d.includes('⟨PHONE_1⟩')));
      assert.ok(deltas.some((d) => d.includes('⟨') && !d.includes('⟩')));
      // The 4-byte emoji is one delta's whole character, never split.
      assert.ok(deltas.some((d) => d.includes('🚗')));
    });

    it('chunk_bytes also splits a continuation, whose rest may start inside a placeholder', async () => {
      const text = `${TEXT} fake:chunk_bytes=2`;
      const want = fakes.partial.answer(text);
      const at = Buffer.from(want).indexOf(Buffer.from('PHONE'));
      const prefix = bytePrefix(want, at);           // "... ruf ⟨" — the placeholder opened
      const st = await sse(fakes.partial.base, contBody('partial', text, prefix, { stream: true }));
      assert.equal(prefix + streamedContent(st.events), want);
    });

    // The fake resets the connection at the cut; whether a reader sees
    // ECONNRESET or an early end depends on when the RST meets its unread
    // data, so the test holds to what is certain: the body stops at the cut.
    it('cut_at_byte ends the connection inside a UTF-8 character of a JSON string', async () => {
      // A fake of its own: its two answers' ids have the same length.
      const fake = await startFake();
      const body = { model: 'm', stream: true, messages: [{ role: 'user', content: TEXT }] };
      const whole = await rawExchange(fake.port, body);
      const ref = dechunk(whole.bytes);
      assert.ok(ref.complete, 'the uncut stream ends');
      // The second byte of 'ü' in the first content delta that holds it.
      const at = ref.body.indexOf(Buffer.from('ü')) + 1;
      assert.ok(at > 0);
      await fake.setMode({ cut_at_byte: at, once: true });
      const cut = await rawExchange(fake.port, body);
      const got = dechunk(cut.bytes);
      assert.equal(got.complete, false, 'the chunked body has no end');
      assert.equal(got.body.length, at, 'exactly cut_at_byte bytes of SSE text arrived');
      assert.ok(got.announced > at, 'the last chunk was announced longer than it was');
      assert.equal(got.body[at - 1], 0xc3, 'the cut falls after the lead byte of ü');
      assert.ok(got.body.subarray(at - 12).equals(ref.body.subarray(at - 12, at)), 'the same delta, up to the cut');
    });

    it('cut_at_byte beyond the stream leaves it whole; it is refused out of range', async () => {
      const fake = fakes.prefill;
      await fake.setMode({ cut_at_byte: 10_000_000, once: true });
      const st = await sse(fake.base, { model: 'm', stream: true, messages: [{ role: 'user', content: TEXT }] });
      assert.ok(st.ended);
      assert.equal(streamedContent(st.events), full);
      await assert.rejects(fake.setMode({ cut_at_byte: -2 }), /out of range/);
      await assert.rejects(fake.setMode({ continuation: 'sometimes' }), /must be/);
    });
  });

  it('a body that is not JSON is recorded with no continuation', async () => {
    const fake = fakes.partial;
    const res = await request(fake.base, { method: 'POST', path: '/v1/chat/completions', body: '{"messages": [' });
    assert.equal(res.status, 400);
    const rec = await lastRecord(fake);
    assert.equal(rec.body, '{"messages": [');
    assert.equal(rec.continuation, null);
  });
});
