// What the report scripts share: the tree's version and the replacement of
// one generated section of a document between its two markers, leaving the
// hand-written rest alone.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { SOURCE_DIR } from '../integration/harness.mjs';

export function gitDescribe() {
  try {
    return execFileSync('git', ['-C', SOURCE_DIR, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Replaces begin...end (markers included) in file with section. */
export function writeSection(file, begin, end, section) {
  const text = fs.readFileSync(file, 'utf8');
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${file} lacks the markers ${begin} ... ${end}`);
  fs.writeFileSync(file, text.slice(0, a) + section + text.slice(b + end.length));
}

// rounded down, so that 9 999 of 10 000 never reads as 100 %
export const pct = (a, n) => `${Math.floor((10000 * a) / n) / 100} % (${a}/${n})`;

/**
 * A report script's whole run: the lab must be available (else exit 2),
 * measure(env) runs in netlab's environment, which is always torn down,
 * and render(result) replaces the section between begin and end of doc.
 */
export async function runReport({ doc, begin, end, measure, render, log }) {
  const { available } = await import('./netlab.mjs');
  const { startEnv, stopEnv } = await import('./faultrun.mjs');
  const lab = await available();
  if (!lab.ok) {
    log(`cannot measure: ${lab.reason}`);
    process.exit(2);
  }
  const env = await startEnv();
  let result;
  try {
    result = await measure(env);
  } catch (e) {
    log(e.stack);
    process.exitCode = 1;
  } finally {
    await stopEnv(env);
  }
  if (!process.exitCode) {
    writeSection(doc, begin, end, render(result));
    log(`wrote ${doc}`);
  }
}
