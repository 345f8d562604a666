// Writes the continuation table of docs/resilience.md (issue 15): for each
// mid-stream failure kind, the share of streamed answers the client got
// whole while a continuing backend was up, the gap at the join (p50/p99) and
// the characters lost or repeated.  See midstream.mjs for what is measured.
//
//   node tests/fault/contreport.mjs [N]    as root, from a built tree (build/)
//
// N streams per kind (default 50), one at a time.  It replaces what lies
// between its two markers in docs/resilience.md.  About N × 7 s.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { SOURCE_DIR } from '../integration/harness.mjs';
import { available } from './netlab.mjs';
import { startEnv, stopEnv } from './faultrun.mjs';
import { startMidstream, measureMidstream } from './midstream.mjs';

const DOC = path.join(SOURCE_DIR, 'docs', 'resilience.md');
const BEGIN = '<!-- BEGIN continuation-report: written by tests/fault/contreport.mjs, do not edit by hand -->';
const END = '<!-- END continuation-report -->';
const N = Number(process.argv[2]) || 50;

const log = (...a) => console.error('contreport:', ...a);
const pct = (a, b) => `${((100 * a) / (b || 1)).toFixed(1)} % (${a}/${b})`;
const ms = (v) => (v === null ? '—' : `${v} ms`);

function describeTree() {
  try {
    return execFileSync('git', ['-C', SOURCE_DIR, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function render(rows) {
  return [
    BEGIN,
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on tiergate ${describeTree()}, `
      + `Linux ${os.release()}, ${os.cpus().length} cores: ${N} streams of each kind, one at a time, the cloud `
      + 'in a network namespace (30 content events 20 ms apart, the fault after the eighth), the device '
      + '(`continuation: "prefill"`) on loopback.',
    '',
    '| mid-stream failure | answers completed | continued | gap at the join p50 / p99 | characters lost / repeated |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.title} | ${pct(r.completed, r.n)} | ${r.continued} | ${ms(r.gapP50)} / ${ms(r.gapP99)} `
      + `| ${r.lost} / ${r.repeated} |`),
    '',
    END,
  ].join('\n');
}

const lab = await available();
if (!lab.ok) {
  log(`cannot measure: ${lab.reason}`);
  process.exit(2);
}
const env = await startEnv();
let rows;
try {
  const ms0 = await startMidstream(env);
  rows = await measureMidstream(ms0, { n: N });
  for (const r of rows) log(JSON.stringify(r));
  await ms0.gw.stop();
} catch (e) {
  log(e.stack);
  process.exitCode = 1;
} finally {
  await stopEnv(env);
}
if (!process.exitCode) {
  const text = fs.readFileSync(DOC, 'utf8');
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${DOC} lacks the markers`);
  fs.writeFileSync(DOC, text.slice(0, a) + render(rows) + text.slice(b + END.length));
  log(`wrote ${DOC}`);
}
