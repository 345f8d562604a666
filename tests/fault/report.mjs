// Writes the measured part of docs/resilience.md: every fault of issue 3 at
// full length (the 503 one for 60 s), the gateway's RSS before and after
// 10 000 requests under faults, and a valgrind run of the integration suite.
//
//   node tests/fault/report.mjs          as root, from a built tree (build/)
//
// It replaces what lies between the two markers in docs/resilience.md and
// leaves the rest of the file, the hand-written prose, alone.  TIERGATE_BIN
// and FAKELLM_BIN choose other binaries, as for the tests.  About 6 minutes.

import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { SOURCE_DIR, TIERGATE_BIN, procUsage, sleep } from '../integration/harness.mjs';
import { gitDescribe, pct, runReport } from './docsection.mjs';
import {
  FAULTS, DEADLINE_MS, PROBE_INTERVAL_MS, startFaultGateway, runFault, summarize, startLoad, liftAll,
} from './faultrun.mjs';

const DOC = path.join(SOURCE_DIR, 'docs', 'resilience.md');
const BEGIN = '<!-- BEGIN fault-report: written by tests/fault/report.mjs, do not edit by hand -->';
const END = '<!-- END fault-report -->';
const FAULT_MS = 20000;
const FAULT_MS_503 = 60000;
const SOAK_REQUESTS = 10000;
const SOAK_FIRST = 1000;
// The soak cycles through the faults, each for SOAK_FAULT_MS and then healthy
// for SOAK_HEAL_MS, with a request every 4 ms (timers make that some 200 a
// second) and at most 32 in flight: 10 000 requests take a minute or more,
// so every fault comes round at least twice.
const SOAK_FAULT_MS = 3000;
const SOAK_HEAL_MS = 1000;
const SOAK_LOAD = { intervalMs: 4, maxInFlight: 32, limit: SOAK_REQUESTS };

const log = (...a) => console.error('report:', ...a);

/* ---- measuring ------------------------------------------------------------ */

async function measureFaults(env) {
  const out = [];
  for (const fault of FAULTS) {
    const faultMs = fault.id === 'http503' ? FAULT_MS_503 : FAULT_MS;
    log(`${fault.title}: ${faultMs / 1000} s`);
    const gw = await startFaultGateway(env);
    const r = await runFault(gw, env, fault, { faultMs });
    const stop = await gw.stop();
    out.push({ ...summarize(r), exit: stop.code });
  }
  return out;
}

/** RSS (kB) at the start, after SOAK_FIRST and after SOAK_REQUESTS requests under faults. */
async function measureSoak(env) {
  log(`${SOAK_REQUESTS} requests under faults`);
  const gw = await startFaultGateway(env);
  const rss = { start: procUsage(gw.pid).rssKb };
  const started = Date.now();
  const load = startLoad(gw, env, SOAK_LOAD);
  const done = () => load.records.length >= SOAK_REQUESTS;
  const firstWatch = (async () => {
    while (load.records.length < SOAK_FIRST) await sleep(20);
    rss.first = procUsage(gw.pid).rssKb;
  })();
  let periods = 0;
  for (; !done(); periods++) {
    await FAULTS[periods % FAULTS.length].apply(env.lab);
    await sleep(SOAK_FAULT_MS);
    await liftAll(env.lab);
    await sleep(SOAK_HEAL_MS);
  }
  const records = await load.stop();
  await firstWatch;
  const why = {};
  for (const q of records.filter((x) => !x.answered)) {
    const k = q.cut ? `a ${q.backend} stream cut after it began` : q.status ? `status ${q.status}` : q.error;
    why[k] = (why[k] || 0) + 1;
  }
  rss.end = procUsage(gw.pid).rssKb;
  const stop = await gw.stop();
  return {
    rss,
    requests: records.length,
    answered: records.filter((q) => q.answered).length,
    why,
    longestMs: Math.max(...records.map((q) => q.totalMs)),
    seconds: (Date.now() - started) / 1000,
    periods,
    exit: stop.code,
  };
}

/** The valgrind run of the integration suite: its closing line, or why it did not run. */
function measureValgrind() {
  log('integration suite under valgrind');
  const r = spawnSync(path.join(SOURCE_DIR, 'tests', 'valgrind.sh'), [path.dirname(TIERGATE_BIN)], { encoding: 'utf8' });
  const out = `${r.stdout}\n${r.stderr}`;
  const line = (re) => (out.match(re) || [''])[0].trim();
  return {
    status: r.status,
    summary: line(/valgrind\.sh: .*/).replace(/^valgrind\.sh: /, '').replace(/; reports in .*$/, ''),
    tests: ['tests', 'pass', 'fail'].map((k) => line(new RegExp(`^ℹ ${k} \\d+`, 'm')).replace('ℹ ', '')).join(', '),
  };
}

/* ---- writing -------------------------------------------------------------- */

const ms = (v) => (v === null || v === undefined ? '—' : `${Math.round(v)} ms`);
const pair = (t) => (t.n ? `${ms(t.p50)} / ${ms(t.p99)}` : '—');

function render(faults, soak, vg) {
  const rows = faults.map((s) => `| ${s.title} | ${s.faultMs / 1000} s | ${pct(s.answered, s.requests)} `
    + `| ${pair(s.ttfb.simple)} | ${pair(s.ttfb.complex)} | ${ms(s.circuitOpenMs)} | ${ms(s.cloudAgainMs)} `
    + `| ${ms(s.longestMs)} / ${ms(s.deadlineMs)} |`);
  const details = faults.map((s) => {
    const routes = Object.entries(s.routes).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
    const e = s.effect;
    const effect = e.packets ? `${e.dropped} of ${e.packets} packets dropped`
      : e.overlimits ? `${e.overlimits} packets held back, ${e.drops} dropped by the tbf` : '—';
    return `| ${s.title} | ${routes || '—'} | ${ms(s.circuitClosedMs)} | ${effect} | ${s.exit} |`;
  });
  const grow = soak.rss.end - soak.rss.first;
  return [
    BEGIN,
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on tiergate ${gitDescribe()}, `
      + `Linux ${os.release()}, ${os.cpus().length} cores.  Deadline ${DEADLINE_MS} ms, `
      + `probe interval ${PROBE_INTERVAL_MS} ms.`,
    '',
    '| fault | length | answered | TTFB simple p50 / p99 | TTFB complex p50 / p99 | circuit opened after | cloud used again after | longest request / deadline |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    '| fault | complex requests during the fault: backend/reason | circuit closed after lift | the impairment did | gateway exit |',
    '| --- | --- | --- | --- | --- |',
    ...details,
    '',
    `Under faults: ${soak.requests} requests in ${soak.seconds.toFixed(0)} s through ${soak.periods} fault periods `
      + `(${SOAK_FAULT_MS / 1000} s each, the faults in turn), ${pct(soak.answered, soak.requests)} answered`
      + `${Object.keys(soak.why).length ? ` (not answered: ${Object.entries(soak.why).map(([k, n]) => `${n} × ${k}`).join(', ')})` : ''}, `
      + `longest ${ms(soak.longestMs)}; gateway exit ${soak.exit}.  RSS (VmRSS): ${soak.rss.start} kB at the start, `
      + `${soak.rss.first} kB after ${SOAK_FIRST} requests, ${soak.rss.end} kB after ${SOAK_REQUESTS} `
      + `(${grow >= 0 ? '+' : ''}${grow} kB over the last ${SOAK_REQUESTS - SOAK_FIRST}).`,
    '',
    vg.summary ? `Valgrind (tests/valgrind.sh): ${vg.summary}; node: ${vg.tests}; exit ${vg.status}.`
      : `Valgrind (tests/valgrind.sh) did not run: exit ${vg.status}.`,
    '',
    END,
  ].join('\n');
}

/* ---- main ----------------------------------------------------------------- */

await runReport({
  doc: DOC,
  begin: BEGIN,
  end: END,
  log,
  measure: async (env) => ({ faults: await measureFaults(env), soak: await measureSoak(env) }),
  render: (r) => render(r.faults, r.soak, measureValgrind()),
});
