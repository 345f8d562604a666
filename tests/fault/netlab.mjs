// The fault suite's network lab: a separate host for the simulated cloud, and
// the impairments put between it and the gateway.
//
// The host is a network namespace, tgf<pid>, joined to this machine by a veth
// pair (tgfh<pid> here, tgfn<pid> there) with a /30 of its own in 10.0.0.0/8
// derived from the pid, so that concurrent runs never collide.  Inside it run
// the cloud's fakellm and, in front of it, delayproxy.mjs; the gateway reaches
// the cloud only through the proxy, over the veth, so every impairment below
// lies on its path:
//
//   blackhole      nftables drops every packet both ways (connects time out)
//   loss(pct)      nftables drops pct % of the packets both ways at random
//                  (numgen random mod 100 < pct drop)
//   bandwidth(r)   tc tbf limits both ends of the veth to rate r
//   flap(ms)       the veth's near end goes down and up every ms ms; while it
//                  is down its route is gone and connects fail at once
//   delay(up, dn)  the proxy holds each direction's bytes (see delayproxy.mjs)
//
// The nftables rules live in a table of their own, inet tgfault<pid>, and only
// match the veth.  heal() lifts every impairment; teardown() removes the
// namespace, the veth, the table, the qdiscs and the route, also when the run
// fails or is interrupted (SIGINT, SIGTERM, process exit), and a new lab first
// removes what dead runs left behind.
//
// One more route guards the rest of the network: "unreachable <subnet> metric
// 4242" stays from before the veth exists until after it is gone, so traffic
// meant for the namespace can never follow the default route off this machine
// (not while the link is down, nor after a teardown that raced the gateway).

import { execFile, execFileSync, spawn } from 'node:child_process';
import { after } from 'node:test';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startFake } from '../integration/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const GUARD_METRIC = 4242;

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 10000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
  });
}

/** Runs a command and ignores its failure: for removing what may not exist. */
function runQuietSync(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 10000 });
  } catch { /* already gone */ }
}

/** The /30 of a run: 10.0.0.0/8 holds exactly one per possible pid (< 2^22). */
function subnetOf(pid) {
  const base = (10 << 24) + pid * 4;
  const ip = (n) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  return { net: `${ip(base)}/30`, nearIp: ip(base + 1), farIp: ip(base + 2) };
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

function namesOf(pid) {
  return { ns: `tgf${pid}`, nearIf: `tgfh${pid}`, farIf: `tgfn${pid}`, table: `tgfault${pid}`, ...subnetOf(pid) };
}

/** Removes a run's namespace, veth, table and guard route, in that order. */
function removeSync(pid) {
  const n = namesOf(pid);
  runQuietSync('ip', ['netns', 'del', n.ns]);
  runQuietSync('ip', ['link', 'del', n.nearIf]);
  runQuietSync('nft', ['delete', 'table', 'inet', n.table]);
  runQuietSync('ip', ['route', 'del', 'unreachable', n.net, 'metric', String(GUARD_METRIC)]);
}

/** Removes what runs whose process is gone left behind. */
async function removeStale() {
  const pids = new Set();
  const collect = (text, re) => {
    for (const line of text.split('\n')) {
      const m = re.exec(line);
      if (m) pids.add(Number(m[1]));
    }
  };
  collect(await run('ip', ['netns', 'list']), /^tgf(\d+)\b/);
  collect(await run('ip', ['-o', 'link', 'show']), /^\d+:\s+tgfh(\d+)[@:]/);
  collect(await run('nft', ['list', 'tables']), /^table inet tgfault(\d+)$/);
  for (const line of (await run('ip', ['route', 'show', 'type', 'unreachable'])).split('\n')) {
    const m = /^unreachable 10\.(\d+)\.(\d+)\.(\d+)\/30 metric (\d+)/.exec(line);
    if (m && Number(m[4]) === GUARD_METRIC) pids.add(((Number(m[1]) << 16) + (Number(m[2]) << 8) + Number(m[3])) / 4);
  }
  for (const pid of pids) {
    if (pid !== process.pid && !pidAlive(pid)) removeSync(pid);
  }
}

/**
 * Whether this machine can run the lab: {ok: true}, or {ok: false, reason}.
 * It needs root, iproute2 and nftables, and must be able to create a network
 * namespace and an nftables table.
 */
export async function available() {
  if (process.getuid && process.getuid() !== 0) return { ok: false, reason: 'not root (network namespaces and nftables need root)' };
  for (const [cmd, args, pkg] of [['ip', ['-V'], 'iproute2'], ['tc', ['-V'], 'iproute2'], ['nft', ['--version'], 'nftables']]) {
    try {
      await run(cmd, args);
    } catch {
      return { ok: false, reason: `no ${cmd} (install ${pkg})` };
    }
  }
  const probe = `tgfprobe${process.pid}`;
  try {
    await run('ip', ['netns', 'add', probe]);
  } catch (e) {
    return { ok: false, reason: `cannot create a network namespace: ${e.message}` };
  } finally {
    runQuietSync('ip', ['netns', 'del', probe]);
  }
  try {
    await run('nft', ['add', 'table', 'inet', probe]);
  } catch (e) {
    return { ok: false, reason: `cannot create an nftables table: ${e.message}` };
  } finally {
    runQuietSync('nft', ['delete', 'table', 'inet', probe]);
  }
  return { ok: true };
}

let current = null;

function teardownNow() {
  if (!current) return;
  const lab = current;
  current = null;
  lab.stopFlapping();
  for (const p of lab.procs) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
  removeSync(process.pid);
}

// However the run ends, the lab goes with it.
after(teardownNow);
process.on('exit', teardownNow);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    teardownNow();
    process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
  });
}

/**
 * Starts delayproxy.mjs in the lab's namespace; resolves its port and a
 * command writer.  The process is the lab's from the start, so that a
 * teardown kills it even if it never listened.
 */
function startProxy(lab, ns, listen, target) {
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, path.join(here, 'delayproxy.mjs'),
    '--listen', `${listen}:0`, '--target', target], { stdio: ['pipe', 'pipe', 'inherit'] });
  lab.procs.push(proc);
  const lines = readline.createInterface({ input: proc.stdout });
  const waiters = [];
  let onListen;
  const listening = new Promise((resolve, reject) => {
    onListen = resolve;
    proc.once('exit', (code) => reject(new Error(`delayproxy exited (${code}) before listening`)));
  });
  lines.on('line', (line) => {
    const m = /^listening \S+:(\d+)$/.exec(line);
    if (m) onListen(Number(m[1]));
    else if (waiters.length) waiters.shift()(line);
  });
  const command = (text) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`delayproxy did not answer "${text}"`)), 5000);
    waiters.push((answer) => { clearTimeout(timer); resolve(answer); });
    proc.stdin.write(`${text}\n`);
  });
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('delayproxy did not listen within 10 s')), 10000).unref());
  return Promise.race([listening, timeout]).then((port) => ({ port, command }));
}

/**
 * Creates the lab and starts the cloud in it.  Returns
 * {cloudUrl, fake, names, blackhole(), loss(pct), bandwidth(rate), flap(ms),
 *  delay(upMs, downMs), heal(), teardown()}; fake is the harness's handle on
 * the cloud's fakellm (setMode, stats, ...), reached directly, not through the
 * proxy.  Only one lab per process.
 */
export async function createLab({ model = 'big-model', label = 'cloud', mode } = {}) {
  if (current) throw new Error('a lab already exists in this process');
  await removeStale();
  const n = namesOf(process.pid);
  const lab = { procs: [], flapTimer: null, stopFlapping() { clearInterval(this.flapTimer); this.flapTimer = null; } };
  current = lab;
  try {
    await run('ip', ['route', 'add', 'unreachable', n.net, 'metric', String(GUARD_METRIC)]);
    await run('ip', ['netns', 'add', n.ns]);
    await run('ip', ['link', 'add', n.nearIf, 'type', 'veth', 'peer', 'name', n.farIf]);
    await run('ip', ['link', 'set', n.farIf, 'netns', n.ns]);
    await run('ip', ['addr', 'add', `${n.nearIp}/30`, 'dev', n.nearIf]);
    await run('ip', ['link', 'set', n.nearIf, 'up']);
    await run('ip', ['-n', n.ns, 'addr', 'add', `${n.farIp}/30`, 'dev', n.farIf]);
    await run('ip', ['-n', n.ns, 'link', 'set', n.farIf, 'up']);
    await run('ip', ['-n', n.ns, 'link', 'set', 'lo', 'up']);
    await run('nft', ['add', 'table', 'inet', n.table]);
    await run('nft', ['add', 'chain', 'inet', n.table, 'out', '{ type filter hook output priority 0; policy accept; }']);
    await run('nft', ['add', 'chain', 'inet', n.table, 'in', '{ type filter hook input priority 0; policy accept; }']);

    const fake = await startFake({ model, label, mode, host: n.farIp, wrap: ['ip', 'netns', 'exec', n.ns] });
    lab.procs.push(fake.proc);
    const proxy = await startProxy(lab, n.ns, n.farIp, `${n.farIp}:${fake.port}`);

    const nft = (chain, ...rule) => run('nft', ['add', 'rule', 'inet', n.table, chain, ...rule]);
    // Each direction gets a rule that counts every packet, then the
    // impairment with a counter of its own, so heal() can tell how many
    // packets the fault saw and dropped.
    const dropBothWays = async (...match) => {
      for (const [chain, dir] of [['out', 'oifname'], ['in', 'iifname']]) {
        await nft(chain, dir, n.nearIf, 'counter');
        await nft(chain, dir, n.nearIf, ...match, 'counter', 'drop');
      }
    };
    const nftCounters = async () => {
      const rules = JSON.parse(await run('nft', ['-j', 'list', 'table', 'inet', n.table])).nftables
        .filter((o) => o.rule).map((o) => o.rule.expr);
      const packets = (expr) => expr.find((e) => e.counter)?.counter.packets ?? 0;
      const sum = (dropping) => rules.filter((e) => e.some((x) => 'drop' in x) === dropping)
        .reduce((a, e) => a + packets(e), 0);
      return { packets: sum(false), dropped: sum(true) };
    };
    const tbfStats = async () => {
      const stats = [
        ...JSON.parse(await run('tc', ['-s', '-j', 'qdisc', 'show', 'dev', n.nearIf])),
        ...JSON.parse(await run('ip', ['netns', 'exec', n.ns, 'tc', '-s', '-j', 'qdisc', 'show', 'dev', n.farIf])),
      ].filter((q) => q.kind === 'tbf');
      return { overlimits: stats.reduce((a, q) => a + q.overlimits, 0), drops: stats.reduce((a, q) => a + q.drops, 0) };
    };
    const link = (state) => run('ip', ['link', 'set', n.nearIf, state]);

    return {
      names: n,
      fake,
      cloudUrl: `http://${n.farIp}:${proxy.port}/v1`,
      blackhole: () => dropBothWays(),
      loss: (pct) => dropBothWays('numgen', 'random', 'mod', '100', '<', String(pct)),
      async bandwidth(rate) {
        // burst: one full-size packet, so that packets leave at the rate and
        // not in bursts; latency: the queue a slow mobile link holds before
        // it drops
        const tbf = ['root', 'tbf', 'rate', rate, 'burst', '1600', 'latency', '1s'];
        await run('tc', ['qdisc', 'replace', 'dev', n.nearIf, ...tbf]);
        await run('ip', ['netns', 'exec', n.ns, 'tc', 'qdisc', 'replace', 'dev', n.farIf, ...tbf]);
      },
      async flap(periodMs) {
        let down = true;
        await link('down');
        lab.flapTimer = setInterval(() => {
          down = !down;
          link(down ? 'down' : 'up').catch(() => {});
        }, periodMs);
      },
      delay: (upMs, downMs) => proxy.command(`delay ${upMs} ${downMs}`),
      /**
       * Lifts every impairment.  Resolves what the lifted ones did: packets
       * seen and dropped by the nftables rules, and the tbf's overlimits
       * (packets it held back) and drops.
       */
      async heal() {
        lab.stopFlapping();
        const effect = { ...(await nftCounters()), ...(await tbfStats()) };
        await link('up');
        await run('nft', ['flush', 'chain', 'inet', n.table, 'out']);
        await run('nft', ['flush', 'chain', 'inet', n.table, 'in']);
        // no qdisc to delete (no bandwidth limit was set) is not an error
        await run('tc', ['qdisc', 'del', 'dev', n.nearIf, 'root']).catch(() => {});
        await run('ip', ['netns', 'exec', n.ns, 'tc', 'qdisc', 'del', 'dev', n.farIf, 'root']).catch(() => {});
        await proxy.command('delay 0 0');
        return effect;
      },
      teardown: teardownNow,
    };
  } catch (e) {
    teardownNow();
    throw e;
  }
}
