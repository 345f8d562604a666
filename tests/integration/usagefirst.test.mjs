// A backend whose stream begins with its usage chunk (no choices), which the
// gateway drops for a client that did not ask for usage: the stream has not
// begun for the client when that chunk commits the answer.  Whatever comes
// next (the rest of the answer, or a cut) must still reach the client as a
// well-formed stream: the answer, or an error event.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFake, startGateway, makeConfig, sse, chat, chatBody, streamedContent, assertSseWire, assertCleanStop } from './harness.mjs';

describe('a stream that begins with its usage chunk', () => {
  let fake;
  let gw;
  before(async () => {
    fake = await startFake({ label: 'device' });
    gw = await startGateway(makeConfig({ device: fake.url }));
  });
  after(async () => { await fake.stop(); });

  it('then the answer: the client gets it whole', async () => {
    const r = await sse(gw.base, chatBody('fake:usage_first=1 hello', { model: 'device', stream: true }));
    assert.equal(r.status, 200);
    assertSseWire(r.raw);
    assert.equal(streamedContent(r.events), '[device simulated] You said: fake:usage_first=1 hello');
  });

  it('then a cut: the client gets an error event and no [DONE]', async () => {
    const r = await sse(gw.base, chatBody('fake:usage_first=1 fake:cut_after=0 hello', { model: 'device', stream: true }));
    assert.equal(r.status, 200);
    assertSseWire(r.raw, { done: false });
    const errors = r.events.filter((e) => e.json && e.json.error);
    assert.equal(errors.length, 1, r.raw);
    assert.equal(r.events.some((e) => e.data === '[DONE]'), false);
  });

  it('the gateway goes on serving, and stops cleanly', async () => {
    const r = await chat(gw.base, chatBody('hello', { model: 'device' }));
    assert.equal(r.status, 200);
    await assertCleanStop(gw);
  });
});
