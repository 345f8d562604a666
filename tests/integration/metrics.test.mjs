// Observability (issue 6): GET /metrics after a scripted mix of requests, every
// counter checked to its exact value; the scrape passes `promtool check
// metrics`; requests refused before any handler are counted by status, apart
// from the chat requests; each request's log line carries its tier, backend, reason, score,
// status, times, tokens and cost; token counts come from the backend's usage,
// streamed or not, and are estimated (and marked so) where a backend reports
// none or a stream is cut short; no prompt, answer or secret reaches the log or the metrics unless
// log.include_text asks for text; log.file takes the request lines and is
// reopened on SIGHUP.

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startFake, startGateway, makeConfig, chat, request, sse, chatBody, streamedContent, waitFor, waitProbes,
  assertCleanStop, parseSse as parseEvents, sleep, CLOUD_KEY,
} from './harness.mjs';

const SIMPLE = 'open the sunroof please';
const SIMPLE_CJK = '打开空调，温度调到二十二度';
const COMPLEX = 'Prove that there are infinitely many primes, step by step';
const CLOUD_PRICE = { input_per_mtok: 3, output_per_mtok: 15 };

/* ---- the Prometheus text, parsed ---- */

function labelsKey(name, labels) {
  const keys = Object.keys(labels).sort();
  return `${name}{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

/** Map of "name{sorted labels}" to value; also checks every sample has a TYPE. */
function parseMetrics(text) {
  const samples = new Map();
  const types = new Map();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) { types.set(t[1], t[2]); continue; }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels = {};
    for (const l of (m[2] || '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    const family = m[1].replace(/_(bucket|sum|count)$/, '');
    assert.ok(types.has(m[1]) || types.get(family) === 'histogram', `sample ${m[1]} has no TYPE line`);
    samples.set(labelsKey(m[1], labels), Number(m[3]));
  }
  return samples;
}

const value = (samples, name, labels = {}) => samples.get(labelsKey(name, labels)) ?? 0;

async function scrape(gw, headers = {}) {
  const res = await request(gw.base, { path: '/metrics', headers });
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  return res.text;
}

/* ---- what the fake reports, and the gateway's estimate ---- */

const words = (s) => s.split(/\s+/).filter(Boolean).length;

/** The usage fakellm reports for its recorded request: body bytes / 4, answer words. */
function fakeUsage(fake, record, text) {
  return {
    input: Math.max(1, Math.floor(Buffer.byteLength(record.body, 'utf8') / 4)),
    output: words(fake.answer(text)),
  };
}

/** The gateway's rule (usage.h): characters of 3+ UTF-8 bytes are a token each, others four to a token. */
function estimate(text) {
  let wide = 0;
  let narrow = 0;
  for (const ch of text) {
    if (ch.codePointAt(0) >= 0x800) wide++;
    else narrow++;
  }
  return wide + Math.ceil(narrow / 4);
}

const cost = (price, u) => (u.input * price.input_per_mtok + u.output * price.output_per_mtok) / 1e6;

function closeTo(actual, expected, what, rel = 1e-12) {
  assert.ok(Math.abs(actual - expected) <= rel * Math.max(1e-300, Math.abs(expected)),
    `${what}: ${actual}, expected ${expected}`);
}

/** The request lines of a log text, by request id. */
function requestLines(text) {
  const lines = new Map();
  for (const l of text.split('\n')) {
    if (!l.includes('"msg":"request"')) continue;
    const o = JSON.parse(l);
    lines.set(o.request_id, o);
  }
  return lines;
}

describe('GET /metrics after a scripted mix of requests', () => {
  let device;
  let cloud;
  let gw;
  let samples;
  let text;
  const expect = { requests: new Map(), attempts: new Map(), tokens: new Map(), cost: 0, savings: 0 };
  const sent = [];     // {name, res, usage, estimated} per request

  const bump = (map, key, n = 1) => map.set(key, (map.get(key) || 0) + n);

  /** Expected counters of one request. */
  function account({ tier, backend, reason, status, attempts = [], usage, estimated = false, answeredBy }) {
    bump(expect.requests, JSON.stringify([tier, backend, reason, String(status)]));
    for (const [b, kind] of attempts) bump(expect.attempts, JSON.stringify([b, kind]));
    if (!usage) return;
    const src = estimated ? 'estimated' : 'reported';
    bump(expect.tokens, JSON.stringify([answeredBy, 'input', src]), usage.input);
    bump(expect.tokens, JSON.stringify([answeredBy, 'output', src]), usage.output);
    if (answeredBy === 'bigcloud') expect.cost += cost(CLOUD_PRICE, usage);
    else expect.savings += cost(CLOUD_PRICE, usage);
  }

  async function lastRecord(fake) {
    const recs = await fake.requests();
    assert.ok(recs.length > 0, `${fake.label} got no request`);
    return recs[recs.length - 1];
  }

  function assertRoute(res, tier, backend, reason) {
    assert.equal(res.headers['x-tiergate-tier'], tier, `tier of ${res.text ?? res.raw}`);
    assert.equal(res.headers['x-tiergate-backend'], backend);
    assert.equal(res.headers['x-tiergate-reason'], reason);
  }

  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'device' });
    cloud = await startFake({ model: 'big-model', label: 'cloud' });
    const cfg = makeConfig({
      device: device.url,
      cloud: cloud.url,
      routing: { retries: 1, retry_backoff_ms: 20, hedge_after_ms: 500, max_first_byte_ms: 0 },
      health: { probe_interval_ms: 60000 },
      extra: { circuit: { failures_to_open: 100, error_rate: 1, min_requests: 1000 } },
    });
    cfg.backends[1].price = CLOUD_PRICE;
    gw = await startGateway(cfg);
    await waitProbes([device, cloud]);

    const run = async (name, fn) => {
      await device.clear();
      await cloud.clear();
      sent.push({ name, ...(await fn()) });
    };

    await run('simple, device', async () => {
      const res = await chat(gw.base, chatBody(SIMPLE));
      assertRoute(res, 'device', 'local', 'complexity');
      const usage = fakeUsage(device, await lastRecord(device), SIMPLE);
      assert.deepEqual(res.json.usage, { prompt_tokens: usage.input, completion_tokens: usage.output,
        total_tokens: usage.input + usage.output });
      account({ tier: 'device', backend: 'local', reason: 'complexity', status: 200, attempts: [['local', 'first']],
        usage, answeredBy: 'local' });
      return { res, usage };
    });
    await run('complex, cloud', async () => {
      const res = await chat(gw.base, chatBody(COMPLEX));
      assertRoute(res, 'cloud', 'bigcloud', 'complexity');
      const usage = fakeUsage(cloud, await lastRecord(cloud), COMPLEX);
      account({ tier: 'cloud', backend: 'bigcloud', reason: 'complexity', status: 200,
        attempts: [['bigcloud', 'first']], usage, answeredBy: 'bigcloud' });
      return { res, usage };
    });
    await run('fallback', async () => {
      await device.setMode({ status: 404, once: true });
      const res = await chat(gw.base, chatBody(SIMPLE));
      assertRoute(res, 'cloud', 'bigcloud', 'fallback');
      const usage = fakeUsage(cloud, await lastRecord(cloud), SIMPLE);
      account({ tier: 'cloud', backend: 'bigcloud', reason: 'fallback', status: 200,
        attempts: [['local', 'first'], ['bigcloud', 'fallback']], usage, answeredBy: 'bigcloud' });
      return { res, usage };
    });
    await run('retry', async () => {
      await device.setMode({ status: 503, once: true });
      const res = await chat(gw.base, chatBody(SIMPLE));
      assertRoute(res, 'device', 'local', 'complexity');
      assert.equal((await device.requests()).length, 2, 'one retry');
      const usage = fakeUsage(device, await lastRecord(device), SIMPLE);
      account({ tier: 'device', backend: 'local', reason: 'complexity', status: 200,
        attempts: [['local', 'first'], ['local', 'retry']], usage, answeredBy: 'local' });
      return { res, usage };
    });
    await run('hedge', async () => {
      await device.setMode({ delay_headers_ms: 3000, once: true });
      const res = await chat(gw.base, chatBody(SIMPLE));
      assertRoute(res, 'cloud', 'bigcloud', 'hedge');
      const usage = fakeUsage(cloud, await lastRecord(cloud), SIMPLE);
      account({ tier: 'cloud', backend: 'bigcloud', reason: 'hedge', status: 200,
        attempts: [['local', 'first'], ['bigcloud', 'hedge']], usage, answeredBy: 'bigcloud' });
      return { res, usage };
    });
    await run('stream without include_usage', async () => {
      const res = await sse(gw.base, chatBody(SIMPLE_CJK, { stream: true }));
      assertRoute(res, 'device', 'local', 'complexity');
      assert.ok(!res.events.some((e) => e.json && 'usage' in e.json), 'usage reached a client that did not ask');
      const usage = fakeUsage(device, await lastRecord(device), SIMPLE_CJK);
      account({ tier: 'device', backend: 'local', reason: 'complexity', status: 200, attempts: [['local', 'first']],
        usage, answeredBy: 'local' });
      return { res, usage };
    });
    await run('stream with include_usage', async () => {
      const res = await sse(gw.base, chatBody(COMPLEX, { stream: true, stream_options: { include_usage: true } }));
      assertRoute(res, 'cloud', 'bigcloud', 'complexity');
      const usage = fakeUsage(cloud, await lastRecord(cloud), COMPLEX);
      const u = res.events.find((e) => e.json && e.json.usage).json.usage;
      assert.deepEqual([u.prompt_tokens, u.completion_tokens], [usage.input, usage.output]);
      account({ tier: 'cloud', backend: 'bigcloud', reason: 'complexity', status: 200,
        attempts: [['bigcloud', 'first']], usage, answeredBy: 'bigcloud' });
      return { res, usage };
    });
    await run('every backend fails', async () => {
      await device.setMode({ status: 500 });
      await cloud.setMode({ status: 500 });
      const res = await chat(gw.base, chatBody(SIMPLE));
      await device.setMode({});
      await cloud.setMode({});
      assert.equal(res.status, 502, res.text);
      assertRoute(res, 'cloud', 'bigcloud', 'failed');
      account({ tier: 'cloud', backend: 'bigcloud', reason: 'failed', status: 502,
        attempts: [['local', 'first'], ['local', 'retry'], ['bigcloud', 'fallback'], ['bigcloud', 'retry']] });
      return { res };
    });
    await run('invalid request', async () => {
      const res = await chat(gw.base, { model: 'auto' });
      assert.equal(res.status, 400, res.text);
      account({ tier: 'none', backend: 'none', reason: 'none', status: 400 });
      return { res };
    });
    await run('no usage, plain', async () => {
      await device.setMode({ no_usage: true, once: true });
      const res = await chat(gw.base, chatBody(SIMPLE_CJK));
      assertRoute(res, 'device', 'local', 'complexity');
      assert.equal(res.json.usage, undefined, 'the fake was to report no usage');
      const usage = { input: estimate(SIMPLE_CJK) + 4, output: estimate(device.answer(SIMPLE_CJK)) };
      account({ tier: 'device', backend: 'local', reason: 'complexity', status: 200, attempts: [['local', 'first']],
        usage, estimated: true, answeredBy: 'local' });
      return { res, usage, estimated: true };
    });
    await run('no usage, stream', async () => {
      await device.setMode({ no_usage: true, once: true });
      const res = await sse(gw.base, chatBody(SIMPLE, { stream: true, stream_options: { include_usage: true } }));
      assertRoute(res, 'device', 'local', 'complexity');
      assert.equal(streamedContent(res.events), device.answer(SIMPLE));
      const usage = { input: estimate(SIMPLE) + 4, output: estimate(device.answer(SIMPLE)) };
      account({ tier: 'device', backend: 'local', reason: 'complexity', status: 200, attempts: [['local', 'first']],
        usage, estimated: true, answeredBy: 'local' });
      return { res, usage, estimated: true };
    });
    // The log line of the last request is written when its exchange ends.
    await waitFor(() => requestLines(gw.stderrText()).size >= sent.length, { what: 'a log line per request' });
    text = await scrape(gw);
    samples = parseMetrics(text);
  });

  it('passes promtool check metrics', () => {
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.ok(!r.error, `promtool could not run (${r.error && r.error.code}): it comes with Debian's `
      + '"prometheus" package, which ./dev.sh installs');
    assert.equal(r.status, 0, `promtool check metrics failed:\n${r.stdout}${r.stderr}\non:\n${text}`);
    assert.equal(r.stdout + r.stderr, '', 'promtool found problems');
  });

  it('counts requests by tier, backend, reason and status, exactly', () => {
    let total = 0;
    for (const [k, n] of expect.requests) {
      const [tier, backend, reason, status] = JSON.parse(k);
      assert.equal(value(samples, 'tiergate_requests_total', { tier, backend, reason, status }), n, k);
      total += n;
    }
    const all = [...samples].filter(([k]) => k.startsWith('tiergate_requests_total{'));
    assert.equal(all.reduce((s, [, v]) => s + v, 0), total, `extra series: ${all.map(([k]) => k).join('\n')}`);
    assert.equal(total, sent.length);
  });

  it('counts attempts by backend and kind (first, retry, fallback, hedge), exactly', () => {
    let total = 0;
    for (const [k, n] of expect.attempts) {
      const [backend, kind] = JSON.parse(k);
      const tier = backend === 'local' ? 'device' : 'cloud';
      assert.equal(value(samples, 'tiergate_upstream_attempts_total', { tier, backend, kind }), n, k);
      total += n;
    }
    const all = [...samples].filter(([k]) => k.startsWith('tiergate_upstream_attempts_total{'));
    assert.equal(all.reduce((s, [, v]) => s + v, 0), total);
  });

  it('counts tokens by direction and source, streamed or not, and the estimated ones apart', () => {
    for (const backend of ['local', 'bigcloud']) {
      for (const direction of ['input', 'output']) {
        for (const source of ['reported', 'estimated']) {
          const want = expect.tokens.get(JSON.stringify([backend, direction, source])) || 0;
          const tier = backend === 'local' ? 'device' : 'cloud';
          assert.equal(value(samples, 'tiergate_tokens_total', { tier, backend, direction, source }), want,
            `${backend} ${direction} ${source}`);
        }
      }
    }
    assert.ok(expect.tokens.get(JSON.stringify(['local', 'output', 'estimated'])) > 0);
  });

  it('prices the cloud tokens and counts what the device saved at the cloud price', () => {
    closeTo(value(samples, 'tiergate_cost_total', { tier: 'cloud', backend: 'bigcloud' }), expect.cost, 'cost');
    assert.equal(value(samples, 'tiergate_cost_total', { tier: 'device', backend: 'local' }), 0, 'the device is free');
    closeTo(value(samples, 'tiergate_savings_total', { tier: 'device', backend: 'local' }), expect.savings, 'savings');
    assert.equal(value(samples, 'tiergate_savings_total', { tier: 'cloud', backend: 'bigcloud' }), 0);
  });

  it('has latency, time-to-first-byte and added-time histograms per tier with cumulative buckets', () => {
    const perTier = { device: 5, cloud: 5, none: 1 };
    for (const name of ['tiergate_request_duration_seconds', 'tiergate_time_to_first_byte_seconds',
      'tiergate_gateway_added_seconds']) {
      for (const [tier, n] of Object.entries(perTier)) {
        assert.equal(value(samples, `${name}_count`, { tier }), n, `${name} ${tier}`);
        assert.equal(value(samples, `${name}_bucket`, { tier, le: '+Inf' }), n);
        assert.ok(value(samples, `${name}_sum`, { tier }) > 0, `${name}_sum ${tier}`);
        const buckets = [...samples].filter(([k]) => k.startsWith(`${name}_bucket{`) && k.includes(`tier="${tier}"`))
          .map(([k, v]) => [Number(/le="([^"]+)"/.exec(k)[1].replace('+Inf', 'Infinity')), v])
          .sort((a, b) => a[0] - b[0]);
        for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1], `${name} not cumulative`);
      }
    }
    // The hedge waited 500 ms for the device: that is waiting, not the gateway's own time.
    assert.ok(value(samples, 'tiergate_request_duration_seconds_sum', { tier: 'cloud' }) > 0.5);
    assert.ok(value(samples, 'tiergate_gateway_added_seconds_sum', { tier: 'cloud' }) < 0.25,
      `added time ${value(samples, 'tiergate_gateway_added_seconds_sum', { tier: 'cloud' })} s`);
  });

  it('reports each backend\'s health and circuit as one-hot gauges', () => {
    for (const [tier, backend] of [['device', 'local'], ['cloud', 'bigcloud']]) {
      assert.equal(value(samples, 'tiergate_backend_health', { tier, backend, state: 'up' }), 1);
      assert.equal(value(samples, 'tiergate_backend_health', { tier, backend, state: 'down' }), 0);
      assert.equal(value(samples, 'tiergate_backend_circuit_state', { tier, backend, state: 'closed' }), 1);
      assert.equal(value(samples, 'tiergate_backend_circuit_state', { tier, backend, state: 'open' }), 0);
    }
  });

  it('writes one log line per request with its route, times, tokens and cost', () => {
    const lines = requestLines(gw.stderrText());
    for (const { name, res, usage, estimated } of sent) {
      const l = lines.get(res.headers['x-request-id']);
      assert.ok(l, `no log line for ${name}`);
      assert.equal(l.status, res.status, name);
      assert.equal(l.tier, res.headers['x-tiergate-tier'], name);
      assert.equal(l.backend, res.headers['x-tiergate-backend'], name);
      assert.equal(l.reason, res.headers['x-tiergate-reason'], name);
      assert.equal(l.score, Number(res.headers['x-tiergate-score']), name);
      assert.ok(l.latency_ms > 0 && l.ttfb_ms > 0 && l.ttfb_ms <= l.latency_ms, `${name}: times ${JSON.stringify(l)}`);
      assert.ok(l.added_ms >= 0 && l.upstream_ms >= 0 && l.added_ms + l.upstream_ms <= l.latency_ms, name);
      if (!usage) {
        assert.equal(l.prompt_tokens, undefined, name);
        assert.equal(l.cost, undefined, name);
        continue;
      }
      assert.equal(l.prompt_tokens, usage.input, name);
      assert.equal(l.completion_tokens, usage.output, name);
      assert.equal(l.usage_estimated, Boolean(estimated), name);
      const want = l.backend === 'bigcloud' ? cost(CLOUD_PRICE, usage) : 0;
      closeTo(l.cost, want, `${name} cost`, 1e-9);   // the log prints ten digits
    }
    const hedge = lines.get(sent.find((s) => s.name === 'hedge').res.headers['x-request-id']);
    assert.ok(hedge.upstream_ms >= 450, `the hedge waited ${hedge.upstream_ms} ms for backends`);
    const failed = lines.get(sent.find((s) => s.name === 'every backend fails').res.headers['x-request-id']);
    assert.equal(failed.attempts, 4);
    assert.match(failed.error, /No tier could answer/);
  });

  it('stops cleanly', async () => {
    await assertCleanStop(gw);
  });
});

describe('request lines and metrics: no text or secret unless asked for, streams cut short, log.file', () => {
  const MARKER = 'zebra-marker-41c7';
  const PROMPT = `tell me a fact about the ${MARKER} please`;
  const CLIENT_KEY = 'tg-prom-0b9d3f6a1c2e4d58';
  const APP_KEY = 'tg-app-77aa1c2e9f3b5d60';
  let device;
  let cloud;

  before(async () => {
    device = await startFake({ model: 'qwen-small', label: 'device' });
    cloud = await startFake({ model: 'big-model', label: 'cloud' });
  });

  it('/metrics needs a client key when auth is on, and nothing carries text or keys', async () => {
    const cfg = makeConfig({ device: device.url, cloud: cloud.url, extra: { auth: { keys_env: 'TEST_CLIENT_KEYS' } } });
    const gw = await startGateway(cfg, { TEST_CLIENT_KEYS: `prometheus:${CLIENT_KEY},app:${APP_KEY}` });
    const denied = await request(gw.base, { path: '/metrics' });
    assert.equal(denied.status, 401, denied.text);
    const auth = { Authorization: `Bearer ${APP_KEY}` };
    const res = await chat(gw.base, chatBody(PROMPT), { headers: auth });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.json.choices[0].message.content.includes(MARKER));
    const streamed = await sse(gw.base, chatBody(PROMPT, { stream: true }), { headers: auth });
    assert.ok(streamedContent(streamed.events).includes(MARKER));
    const text = await scrape(gw, { Authorization: `Bearer ${CLIENT_KEY}` });
    await waitFor(() => requestLines(gw.stderrText()).size >= 4, { what: 'the log lines' });
    const log = gw.stderrText();
    assert.match(log, /"client":"app"/, 'the key name is logged');
    for (const [where, t] of [['log', log], ['metrics', text]]) {
      for (const s of [MARKER, 'You said', CLOUD_KEY, CLIENT_KEY, APP_KEY]) {
        assert.ok(!t.includes(s), `"${s}" appears in the ${where}`);
      }
    }
    assert.ok(!/"messages"|"answer"/.test(log), 'text fields in the log without log.include_text');
    await assertCleanStop(gw);
  });

  it('counts the requests the gateway refuses itself by status, apart from the chat requests', async () => {
    const cfg = makeConfig({
      device: device.url, cloud: cloud.url,
      limits: { max_body_bytes: 2048, max_inflight_per_key: 1 },
      extra: { auth: { keys_env: 'TEST_CLIENT_KEYS' } },
    });
    const gw = await startGateway(cfg, { TEST_CLIENT_KEYS: `prometheus:${CLIENT_KEY},app:${APP_KEY}` });
    const auth = { Authorization: `Bearer ${APP_KEY}` };
    const statuses = [];
    statuses.push((await chat(gw.base, chatBody(PROMPT))).status);                                   // no key
    statuses.push((await chat(gw.base, chatBody(PROMPT), { headers: { Authorization: 'Bearer nope' } })).status);
    statuses.push((await request(gw.base, { path: '/v1/nothing', headers: auth })).status);
    statuses.push((await request(gw.base, { method: 'DELETE', path: '/v1/chat/completions', headers: auth })).status);
    statuses.push((await chat(gw.base, chatBody('x'.repeat(4096)), { headers: auth })).status);
    await device.setMode({ delay_headers_ms: 1500 });
    try {
      const slow = chat(gw.base, chatBody(PROMPT), { headers: auth });
      await sleep(300);
      statuses.push((await chat(gw.base, chatBody(PROMPT), { headers: auth })).status);            // second in flight
      assert.equal((await slow).status, 200);
    } finally {
      await device.setMode({});
    }
    assert.deepEqual(statuses, [401, 401, 404, 405, 413, 429]);
    const text = await scrape(gw, { Authorization: `Bearer ${CLIENT_KEY}` });
    const samples = parseMetrics(text);
    assert.equal(value(samples, 'tiergate_refused_total', { status: '401' }), 2, text);
    for (const st of ['404', '405', '413', '429']) assert.equal(value(samples, 'tiergate_refused_total', { status: st }), 1, `${st}\n${text}`);
    const chats = [...samples].filter(([k]) => k.startsWith('tiergate_requests_total{')).reduce((a, [, v]) => a + v, 0);
    assert.equal(chats, 1, `only the one chat request a handler took is in tiergate_requests_total:\n${text}`);
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool: ${r.error || ''}${r.stdout}${r.stderr}`);
    await assertCleanStop(gw);
  });

  it('a stream broken by the backend or left by its client is accounted with what was streamed, estimated', async () => {
    const gw = await startGateway(makeConfig({ device: device.url, cloud: cloud.url }));
    await device.setMode({ error_event_after: 2, once: true });
    const broken = await sse(gw.base, chatBody(SIMPLE, { stream: true }));
    assert.ok(broken.raw.includes('"error"'), broken.raw);
    await device.setMode({ chunks: 10, chunk_delay_ms: 100, once: true });
    const left = await sse(gw.base, chatBody(SIMPLE, { stream: true }), {
      onData: (raw, req) => { if (streamedContent(parseEvents(raw)).length > 0) req.abort(); },
    });
    assert.ok(left.aborted);
    await waitFor(() => requestLines(gw.stderrText()).size === 2, { what: 'both log lines' });
    const lines = requestLines(gw.stderrText());
    const b = lines.get(broken.headers['x-request-id']);
    assert.equal(b.status, 200);
    assert.match(b.error, /failed mid-stream/);
    assert.equal(b.usage_estimated, true);
    assert.equal(b.prompt_tokens, estimate(SIMPLE) + 4);
    assert.equal(b.completion_tokens, estimate(streamedContent(broken.events)));
    const l = lines.get(left.headers['x-request-id']);
    assert.equal(l.client_gone, true);
    assert.equal(l.usage_estimated, true);
    assert.ok(l.completion_tokens >= estimate(streamedContent(left.events)) && l.completion_tokens > 0, JSON.stringify(l));
    const samples = parseMetrics(await scrape(gw));
    assert.equal(value(samples, 'tiergate_requests_total', { tier: 'device', backend: 'local', reason: 'complexity', status: '200' }), 2);
    assert.equal(value(samples, 'tiergate_tokens_total', { tier: 'device', backend: 'local', direction: 'input', source: 'estimated' }),
      2 * (estimate(SIMPLE) + 4));
    await assertCleanStop(gw);
  });

  it('log.include_text puts the text in the request lines of log.file, warned at start; SIGHUP reopens the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tiergate-log-'));
    const file = path.join(dir, 'requests.log');
    try {
      const cfg = makeConfig({ device: device.url, cloud: cloud.url, extra: { log: { file, include_text: true } } });
      const gw = await startGateway(cfg);
      assert.match(gw.stderrText(), /"level":"warn","msg":"log.include_text is ON/);
      const res = await chat(gw.base, chatBody(PROMPT));
      assert.equal(res.status, 200, res.text);
      await waitFor(() => fs.existsSync(file) && requestLines(fs.readFileSync(file, 'utf8')).size === 1,
        { what: 'the request line in log.file' });
      const line = requestLines(fs.readFileSync(file, 'utf8')).get(res.headers['x-request-id']);
      assert.deepEqual(line.messages, [{ role: 'user', content: PROMPT }]);
      assert.equal(line.answer, device.answer(PROMPT));
      assert.equal(requestLines(gw.stderrText()).size, 0, 'request lines went to stderr too');

      fs.renameSync(file, `${file}.1`);
      gw.proc.kill('SIGHUP');
      await waitFor(() => gw.stderrText().includes('"msg":"configuration reloaded"'), { what: 'the reload' });
      const again = await chat(gw.base, chatBody(SIMPLE));
      await waitFor(() => fs.existsSync(file) && requestLines(fs.readFileSync(file, 'utf8')).has(again.headers['x-request-id']),
        { what: 'the request line in the reopened file' });
      assert.equal(requestLines(fs.readFileSync(`${file}.1`, 'utf8')).size, 1, 'a line went to the moved file');
      await assertCleanStop(gw);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
