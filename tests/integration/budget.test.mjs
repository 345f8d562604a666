// Spend budgets (issue 6): a daily cap in total and per client key on what the
// priced backends cost.  Over it, requests that needed a priced tier go to the
// device with reason "budget", or get OpenAI's 429 insufficient_quota (which
// the official SDK does not retry); streams are charged like plain answers;
// the spend survives SIGTERM and SIGKILL restarts and a reload; a damaged
// state file is reported (log, /readyz, --check) and never taken for zero.
//
// The cloud costs 0.1 per token, so one answer (some 30 tokens) spends more
// than a cap of 1.  Budget days are set to begin at the local midnight of a
// time zone where it is about noon now, so no test straddles a day's end.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import {
  startFake, startGateway, runGateway, makeConfig, chat, sse, request, chatBody, waitFor, scaled,
  assertCleanStop, assertErrorResponse, assertSseWire, CLOUD_KEY,
} from './harness.mjs';

const SIMPLE = 'open the sunroof please';
const COMPLEX = 'Prove that there are infinitely many primes, step by step';
const PRICE = { input_per_mtok: 100000, output_per_mtok: 100000 };
const KEYS = 'alice:sk-alice-key-00000001,bob:sk-bob-key-000000002,kiosk:sk-kiosk-key-0000003';
const as = (name) => ({ Authorization: `Bearer sk-${name}-key-${{ alice: '00000001', bob: '000000002', kiosk: '0000003' }[name]}` });

/** An offset from UTC, in minutes, at which it is about noon now. */
function noonOffset() {
  const now = new Date();
  return Math.round((12 - now.getUTCHours() - now.getUTCMinutes() / 60) * 60);
}

/** Seconds until the day at offset minutes from UTC ends. */
function secondsLeft(offset) {
  const now = Math.floor(Date.now() / 1000);
  const local = now + offset * 60;
  return (Math.floor(local / 86400) + 1) * 86400 - offset * 60 - now;
}

const dirs = [];
function stateDir() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tiergate-budget-'));
  dirs.push(d);
  return d;
}

/** tiergate with args ("{config}" for cfg's file), run to its end. */
function run(args, cfg) {
  return runGateway(args, { config: cfg, env: { TEST_CLOUD_KEY: CLOUD_KEY } });
}

/** The gateway's request log lines, parsed. */
function requestLines(gw) {
  return gw.stderrText().split('\n').filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l));
}

function logLines(gw, msg) {
  return gw.stderrText().split('\n').filter((l) => l.includes(`"msg":"${msg}`));
}

async function readyBudget(gw) {
  const r = await request(gw.base, { path: '/readyz' });
  assert.ok(r.json && r.json.budget, `/readyz has no budget: ${r.text}`);
  return r.json.budget;
}

/** Waits until /readyz shows the spend above min. */
function spentAbove(gw, min) {
  return waitFor(async () => {
    const b = await readyBudget(gw);
    return b.spent > min ? b : false;
  }, { what: `budget spent above ${min}` });
}

/** The total in a state file. */
function fileTotal(file) {
  const text = fs.readFileSync(file, 'utf8');
  assert.match(text, /^tiergate-budget 1 \d+ [0-9a-f]{8}\n/);
  return JSON.parse(text.slice(text.indexOf('\n') + 1)).total;
}

describe('budget', () => {
  let device;
  let cloud;

  before(async () => {
    device = await startFake({ label: 'device', model: 'small' });
    cloud = await startFake({ label: 'cloud', model: 'big' });
  });

  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  function config(budget, { dir = stateDir(), extra = {} } = {}) {
    const cfg = makeConfig({ device: device.url, cloud: cloud.url, health: { probe_interval_ms: 60000 }, extra });
    cfg.backends[1].price = PRICE;
    cfg.budget = { state_file: path.join(dir, 'budget.state'), utc_offset_minutes: noonOffset(), ...budget };
    return cfg;
  }

  async function start(cfg, env = {}) {
    await cloud.clear();
    return startGateway(cfg, env);
  }

  it('downgrades: over the daily cap, what needed the cloud goes to the device with reason budget', async () => {
    const gw = await start(config({ daily: 1 }));
    try {
      const fresh = await readyBudget(gw);
      assert.deepEqual({ ...fresh, day: undefined }, { state: 'fresh', day: undefined, spent: 0, daily: 1, exhausted: false });
      assert.match(fresh.day, /^\d{4}-\d{2}-\d{2}$/);

      // A stream is charged like a plain answer, with what its usage said.
      const first = await sse(gw.base, chatBody(COMPLEX, { stream: true }));
      assertSseWire(first.raw, { done: true });
      assert.equal(first.headers['x-tiergate-tier'], 'cloud');
      assert.equal(first.headers['x-tiergate-reason'], 'complexity');
      const spent = await spentAbove(gw, 1);
      assert.equal(spent.exhausted, true);
      const line = requestLines(gw).find((l) => l.request_id === first.headers['x-request-id']);
      assert.ok(line.cost > 1, JSON.stringify(line));
      assert.ok(Math.abs(spent.spent - line.cost) < 1e-6, 'the budget holds what the log line says it cost');

      const plain = await chat(gw.base, chatBody(COMPLEX));
      assert.equal(plain.status, 200, plain.text);
      assert.equal(plain.headers['x-tiergate-tier'], 'device');
      assert.equal(plain.headers['x-tiergate-reason'], 'budget');
      assert.equal(plain.json.choices[0].message.content, device.answer(COMPLEX));
      const simple = await chat(gw.base, chatBody(SIMPLE));
      assert.equal(simple.headers['x-tiergate-reason'], 'complexity', 'a device request keeps its reason');
      for (const forced of [{ body: { ...chatBody(SIMPLE), model: 'cloud' } }, { body: chatBody(SIMPLE), headers: { 'X-Tiergate-Tier': 'cloud' } },
        { body: { ...chatBody(SIMPLE), model: 'bigcloud' } }]) {
        const r = await chat(gw.base, forced.body, { headers: forced.headers });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.headers['x-tiergate-tier'], 'device', 'a client that names the cloud does not get it either');
        assert.equal(r.headers['x-tiergate-reason'], 'budget');
      }
      const stream = await sse(gw.base, chatBody(COMPLEX, { stream: true }));
      assertSseWire(stream.raw, { done: true });
      assert.equal(stream.headers['x-tiergate-reason'], 'budget');
      const route = await chat(gw.base, chatBody(COMPLEX), { path: '/v1/route' });
      assert.equal(route.json.reason, 'budget');
      assert.deepEqual(route.json.candidates.map((c) => c.backend), ['local']);

      assert.equal((await cloud.requests()).length, 1, 'the cloud saw only the first request');
      assert.equal(logLines(gw, 'budget: the daily cap is reached').length, 1);
      const scrape = (await request(gw.base, { path: '/metrics' })).text;
      assert.match(scrape, /^tiergate_requests_total\{[^}]*backend="local"[^}]*reason="budget",status="200"\} 5$/m);
      assert.equal((await readyBudget(gw)).spent, spent.spent, 'device answers cost nothing');
    } finally {
      await assertCleanStop(gw);
    }
  });

  it('rejects: 429 insufficient_quota with Retry-After at the day\'s end, which the SDK does not retry', async () => {
    const cfg = config({ daily: 1, when_exhausted: 'reject' });
    const gw = await start(cfg);
    try {
      assert.equal((await chat(gw.base, chatBody(COMPLEX))).headers['x-tiergate-tier'], 'cloud');
      await spentAbove(gw, 1);
      const res = await chat(gw.base, chatBody(COMPLEX));
      assertErrorResponse(res, 429, 'over budget');
      assert.equal(res.json.error.type, 'insufficient_quota');
      assert.equal(res.json.error.code, 'insufficient_quota');
      assert.match(res.json.error.message, /daily budget/);
      assert.equal(res.headers['x-tiergate-reason'], 'budget');
      assert.equal(res.headers['x-should-retry'], 'false');
      const want = secondsLeft(cfg.budget.utc_offset_minutes);
      assert.ok(Math.abs(Number(res.headers['retry-after']) - want) <= 2,
        `Retry-After ${res.headers['retry-after']}, the day ends in ${want} s`);
      const streamed = await chat(gw.base, chatBody(COMPLEX, { stream: true }));
      assertErrorResponse(streamed, 429, 'a stream over budget');

      const simple = await chat(gw.base, chatBody(SIMPLE));
      assert.equal(simple.status, 200, 'a request the device answers anyway is not refused');
      assert.equal(simple.headers['x-tiergate-reason'], 'complexity');

      // The SDK (maxRetries 2 by default) takes X-Should-Retry: false at its word.
      const refusedBefore = requestLines(gw).filter((l) => l.status === 429).length;
      const client = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: 'sk-unused', timeout: scaled(10000) });
      await assert.rejects(client.chat.completions.create(chatBody(COMPLEX)),
        (e) => e.status === 429 && e.code === 'insufficient_quota' && e.type === 'insufficient_quota');
      await waitFor(() => requestLines(gw).filter((l) => l.status === 429).length > refusedBefore);
      assert.equal(requestLines(gw).filter((l) => l.status === 429).length, refusedBefore + 1, 'no retry');
      const scrape = (await request(gw.base, { path: '/metrics' })).text;
      assert.match(scrape, /^tiergate_requests_total\{[^}]*reason="budget",status="429"\} 3$/m);
      assert.equal((await cloud.requests()).length, 1);
    } finally {
      await assertCleanStop(gw);
    }
  });

  it('per key: each key has its own daily cap, a named key its own, and the total still counts', async () => {
    const cfg = config({ per_key_daily: 1, keys: { bob: 1000, kiosk: 0 } }, { extra: { auth: { keys_env: 'TG_KEYS' } } });
    const gw = await start(cfg, { TG_KEYS: KEYS });
    try {
      const a1 = await chat(gw.base, chatBody(COMPLEX), { headers: as('alice') });
      assert.equal(a1.headers['x-tiergate-tier'], 'cloud');
      await spentAbove(gw, 1);
      const a2 = await chat(gw.base, chatBody(COMPLEX), { headers: as('alice') });
      assert.equal(a2.headers['x-tiergate-tier'], 'device');
      assert.equal(a2.headers['x-tiergate-reason'], 'budget');
      for (let i = 0; i < 2; i++) {
        const b = await chat(gw.base, chatBody(COMPLEX), { headers: as('bob') });
        assert.equal(b.headers['x-tiergate-tier'], 'cloud', 'bob has a cap of his own');
      }
      const k = await chat(gw.base, chatBody(COMPLEX), { headers: as('kiosk') });
      assert.equal(k.headers['x-tiergate-tier'], 'device', 'a cap of 0 lets nothing through');
      assert.equal(k.headers['x-tiergate-reason'], 'budget');
      assert.equal((await cloud.requests()).length, 3);

      const costs = requestLines(gw).filter((l) => l.tier === 'cloud').map((l) => l.cost);
      assert.equal(costs.length, 3);
      const b = await waitFor(async () => {
        const s = await readyBudget(gw);
        return Math.abs(s.spent - costs.reduce((x, y) => x + y)) < 1e-6 ? s : false;
      }, { what: 'the total of three answers' });
      assert.equal(b.daily, null);
      assert.equal(b.exhausted, false, 'no total cap');
      const reached = logLines(gw, 'budget: a client key reached its daily cap');
      assert.equal(reached.length, 1);
      assert.match(reached[0], /"client":"alice"/);
      assert.ok(!gw.stderrText().includes('sk-alice'), 'no key in the log');
    } finally {
      await assertCleanStop(gw);
    }
  });

  it('keeps the spend over a SIGTERM and a SIGKILL restart', async (t) => {
    const dir = stateDir();
    const file = path.join(dir, 'budget.state');
    let gw = await start(config({ daily: 1 }, { dir }));
    let spent;
    try {
      await chat(gw.base, chatBody(COMPLEX));
      spent = (await spentAbove(gw, 1)).spent;
    } finally {
      await assertCleanStop(gw);
    }
    assert.equal(fileTotal(file), spent, 'an orderly stop saves the spend');

    gw = await start(config({ daily: 1 }, { dir }));
    try {
      const b = await readyBudget(gw);
      assert.equal(b.state, 'loaded');
      assert.equal(b.spent, spent);
      assert.equal(b.exhausted, true);
      const r = await chat(gw.base, chatBody(COMPLEX));
      assert.equal(r.headers['x-tiergate-reason'], 'budget', 'the cap holds after the restart');
    } finally {
      await assertCleanStop(gw);
    }

    // Room for one more answer; then SIGKILL once it is on disk (within a second).
    gw = await start(config({ daily: spent + 0.5 }, { dir }));
    let more;
    try {
      const r = await chat(gw.base, chatBody(COMPLEX));
      assert.equal(r.headers['x-tiergate-tier'], 'cloud');
      const charged = Date.now();
      more = (await spentAbove(gw, spent + 0.5)).spent;
      await waitFor(() => fileTotal(file) === more, { timeoutMs: 3000, what: 'the state file to hold the new spend' });
      const waited = Date.now() - charged;
      assert.ok(waited <= scaled(1600), `saved ${waited} ms after the charge`);
      t.diagnostic(`the state file held the charge ${waited} ms after it`);
    } finally {
      const k = await gw.stop({ signal: 'SIGKILL' });
      assert.equal(k.signal, 'SIGKILL');
    }
    gw = await start(config({ daily: spent + 0.5 }, { dir }));
    try {
      const b = await readyBudget(gw);
      assert.equal(b.spent, more);
      assert.equal(b.exhausted, true);
      const r = await chat(gw.base, chatBody(COMPLEX));
      assert.equal(r.headers['x-tiergate-reason'], 'budget', 'the cap holds after SIGKILL');
    } finally {
      await assertCleanStop(gw);
    }
  });

  it('applies new caps on SIGHUP and keeps the day\'s spend', async () => {
    const cfg = config({ daily: 1 });
    const gw = await start(cfg);
    try {
      await chat(gw.base, chatBody(COMPLEX));
      const { spent } = await spentAbove(gw, 1);
      assert.equal((await chat(gw.base, chatBody(COMPLEX))).headers['x-tiergate-reason'], 'budget');
      fs.writeFileSync(gw.configPath, JSON.stringify({ ...cfg, budget: { ...cfg.budget, daily: 1000 } }));
      const before = gw.stderrText().length;
      gw.proc.kill('SIGHUP');
      await waitFor(() => gw.stderrText().slice(before).includes('"msg":"configuration reloaded"'));
      const b = await readyBudget(gw);
      assert.equal(b.spent, spent);
      assert.equal(b.daily, 1000);
      assert.equal((await chat(gw.base, chatBody(COMPLEX))).headers['x-tiergate-tier'], 'cloud');
    } finally {
      await assertCleanStop(gw);
    }
  });

  it('turns on and off with a reload; a state file a reload cannot write refuses the reload', async () => {
    const dir = stateDir();
    const cfg = config({ daily: 1 }, { dir });
    const off = { ...cfg };
    delete off.budget;
    const gw = await start(off);
    const hup = async (c, expect) => {
      fs.writeFileSync(gw.configPath, JSON.stringify(c));
      const before = gw.stderrText().length;
      gw.proc.kill('SIGHUP');
      return waitFor(() => gw.stderrText().slice(before).split('\n').find((l) => l.includes(`"msg":"${expect}`)),
        { what: expect });
    };
    try {
      assert.equal((await request(gw.base, { path: '/readyz' })).json.budget, undefined);
      const failed = await hup({ ...cfg, budget: { ...cfg.budget, state_file: path.join(dir, 'no', 'b.state') } },
        'reload failed');
      assert.match(failed, /budget\.state_file: the directory of/);
      assert.equal((await request(gw.base, { path: '/readyz' })).json.budget, undefined, 'nothing changed');

      await hup(cfg, 'configuration reloaded');
      assert.equal((await readyBudget(gw)).state, 'fresh');
      await chat(gw.base, chatBody(COMPLEX));
      const { spent } = await spentAbove(gw, 1);
      assert.equal((await chat(gw.base, chatBody(COMPLEX))).headers['x-tiergate-reason'], 'budget');

      await hup(off, 'configuration reloaded');
      assert.equal((await request(gw.base, { path: '/readyz' })).json.budget, undefined);
      assert.equal(fileTotal(cfg.budget.state_file), spent, 'turned off: saved and closed');
      assert.equal((await chat(gw.base, chatBody(COMPLEX))).headers['x-tiergate-tier'], 'cloud', 'no cap without a budget');
    } finally {
      await assertCleanStop(gw);
    }
  });

  it('recovers a torn state file from its previous copy, says so, and keeps the damaged one', async () => {
    const dir = stateDir();
    const file = path.join(dir, 'budget.state');
    const cfg = config({ daily: 1000 }, { dir });
    let gw = await start(cfg);
    try {
      await chat(gw.base, chatBody(COMPLEX));
      await spentAbove(gw, 1);
    } finally {
      await assertCleanStop(gw);
    }
    const prevTotal = fileTotal(`${file}.prev`);
    const whole = fs.readFileSync(file);
    fs.writeFileSync(file, whole.subarray(0, whole.length - 7));

    const check = await run(['--check', '--config', '{config}'], cfg);
    assert.equal(check.code, 1, check.stderr);
    assert.match(check.stderr, /budget\.state_file: .*budget\.state: truncated.*previous copy is good/);

    gw = await start(cfg);
    try {
      const b = await readyBudget(gw);
      assert.equal(b.state, 'recovered');
      assert.match(b.error, /truncated/);
      assert.equal(b.spent, prevTotal);
      const logged = logLines(gw, 'budget state file damaged: its previous copy was loaded');
      assert.equal(logged.length, 1);
      assert.match(logged[0], /"level":"error"/);
      assert.equal(fs.readdirSync(dir).filter((n) => n.startsWith('budget.state.corrupt-')).length, 1);
    } finally {
      await assertCleanStop(gw);
    }
    assert.equal((await run(['--check', '--config', '{config}'], cfg)).code, 0,
      'the next save wrote a good file');
  });

  it('blocks priced requests for the day when no copy of the state is good, until the files are repaired', async () => {
    const dir = stateDir();
    const file = path.join(dir, 'budget.state');
    const garbage = 'tiergate-budget 1 12 deadbeef\n{"total":0}\n';
    fs.writeFileSync(file, garbage);
    const cfg = config({ daily: 1000, when_exhausted: 'reject' }, { dir });

    const check = await run(['--check', '--config', '{config}'], cfg);
    assert.equal(check.code, 1);
    assert.match(check.stderr, /budget\.state_file: .*budget\.state: CRC-32 mismatch.*previous copy: missing/);

    const gw = await start(cfg);
    try {
      const b = await readyBudget(gw);
      assert.equal(b.state, 'corrupt');
      assert.equal(b.exhausted, true);
      assert.match(b.error, /CRC-32 mismatch/);
      assert.equal(logLines(gw, 'budget state file damaged and no good previous copy').length, 1);
      const res = await chat(gw.base, chatBody(COMPLEX));
      assertErrorResponse(res, 429, 'blocked');
      assert.match(res.json.error.message, /rest of the budget day: .*damaged/);
      const want = secondsLeft(cfg.budget.utc_offset_minutes);
      assert.ok(Math.abs(Number(res.headers['retry-after']) - want) <= 2, 'the block ends with the day');
      assert.equal((await chat(gw.base, chatBody(SIMPLE))).status, 200, 'the device still answers');
      assert.equal((await cloud.requests()).length, 0);
    } finally {
      await assertCleanStop(gw);
    }
    assert.equal(fs.readFileSync(file, 'utf8'), garbage, 'the damaged file is left for a person to look at');
    assert.deepEqual(fs.readdirSync(dir), ['budget.state']);

    const dg = await start(config({ daily: 1000 }, { dir }));
    try {
      const r = await chat(dg.base, chatBody(COMPLEX));
      assert.equal(r.headers['x-tiergate-tier'], 'device', 'downgrade: blocked, not zero');
      assert.equal(r.headers['x-tiergate-reason'], 'budget');
      fs.rmSync(file);
      dg.proc.kill('SIGHUP');
      await waitFor(async () => (await readyBudget(dg)).state === 'fresh', { what: 'the repair taking effect' });
      assert.equal((await chat(dg.base, chatBody(COMPLEX))).headers['x-tiergate-tier'], 'cloud');
    } finally {
      await assertCleanStop(dg);
    }
  });

  it('refuses to start when the state file cannot be written; --check prints the section', async () => {
    const cfg = config({ daily: 1 });
    cfg.budget.state_file = path.join(stateDir(), 'missing', 'budget.state');
    const r = await run(['--config', '{config}'], cfg);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /tiergate: budget\.state_file: the directory of .*missing\/budget\.state: No such file/);

    const ok = config({ daily: 2.5, when_exhausted: 'reject' });
    const check = await run(['--check', '--config', '{config}'], ok);
    assert.equal(check.code, 0, check.stderr);
    const printed = JSON.parse(check.stdout).budget;
    assert.deepEqual({ ...printed, state_file: undefined }, {
      daily: 2.5, per_key_daily: null, keys: {}, when_exhausted: 'reject',
      utc_offset_minutes: ok.budget.utc_offset_minutes, state_file: undefined,
    });
    assert.match(check.stderr, /budget state fresh/);
    assert.ok(!fs.existsSync(ok.budget.state_file), '--check writes nothing');
  });
});
