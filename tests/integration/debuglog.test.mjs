// tiergate --debug names every change of state of a request (exchange) and
// of its attempts, in order; without it, none is logged.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFake, startGateway, makeConfig, sse, chat, chatBody, waitFor, assertCleanStop } from './harness.mjs';

const states = (text, of) => text.split('\n').filter((l) => l.includes('"msg":"state"') && l.includes(`"of":"${of}"`))
  .map((l) => JSON.parse(l)).map((o) => `${o.from}>${o.to}`);

describe('debug log of states', () => {
  let fake;
  after(async () => { if (fake) await fake.stop(); });

  it('--debug logs the states of a stream and of its attempt, in order', async () => {
    fake = await startFake({ label: 'device' });
    const gw = await startGateway(makeConfig({ device: fake.url }), {}, { args: ['--debug'] });
    const r = await sse(gw.base, chatBody('hello', { model: 'device', stream: true }));
    assert.equal(r.status, 200);
    await waitFor(() => states(gw.stderrText(), 'exchange').includes('streaming>stream_ended'), { what: 'the last state' });
    const ex = states(gw.stderrText(), 'exchange');
    assert.deepEqual(ex.slice(-3),
      ['receiving>handling', 'handling>streaming', 'streaming>stream_ended']);
    const at = states(gw.stderrText(), 'attempt');
    assert.deepEqual(at.slice(0, 2), ['sending>receiving', 'receiving>committed']);
    assert.ok(at.includes('committed>finishing'), at.join(', '));
    assert.equal(at[at.length - 1].endsWith('>ended'), true, at.join(', '));
    await assertCleanStop(gw);
  });

  it('without --debug, no state line', async () => {
    const gw = await startGateway(makeConfig({ device: fake.url }));
    const r = await chat(gw.base, chatBody('hello', { model: 'device' }));
    assert.equal(r.status, 200);
    await assertCleanStop(gw);
    assert.equal(gw.stderrText().includes('"msg":"state"'), false);
  });
});
