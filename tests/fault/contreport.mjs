// Writes the continuation table of docs/resilience.md (issue 15): for each
// mid-stream failure kind, the share of streamed answers the client got
// whole while a continuing backend was up, the gap at the join (p50/p99) and
// the characters lost or repeated.  See midstream.mjs for what is measured.
//
//   node tests/fault/contreport.mjs [N]    as root, from a built tree (build/)
//
// N streams per kind (default 50), one at a time.  It replaces what lies
// between its two markers in docs/resilience.md.  About N × 7 s.

import os from 'node:os';
import path from 'node:path';
import { SOURCE_DIR } from '../integration/harness.mjs';
import { gitDescribe, pct, runReport } from './docsection.mjs';
import { startMidstream, measureMidstream } from './midstream.mjs';

const DOC = path.join(SOURCE_DIR, 'docs', 'resilience.md');
const BEGIN = '<!-- BEGIN continuation-report: written by tests/fault/contreport.mjs, do not edit by hand -->';
const END = '<!-- END continuation-report -->';
const N = Number(process.argv[2]) || 50;

const log = (...a) => console.error('contreport:', ...a);
const ms = (v) => (v === null ? '—' : `${v} ms`);

function render(rows) {
  return [
    BEGIN,
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on tiergate ${gitDescribe()}, `
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

await runReport({
  doc: DOC,
  begin: BEGIN,
  end: END,
  log,
  render,
  async measure(env) {
    const ms0 = await startMidstream(env);
    const rows = await measureMidstream(ms0, { n: N });
    for (const r of rows) log(JSON.stringify(r));
    await ms0.gw.stop();
    return rows;
  },
});
