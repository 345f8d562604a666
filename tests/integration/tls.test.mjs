// Upstream TLS against a real TLS server: `openssl s_server -WWW` with a
// self-signed certificate serves the cloud's health endpoint.  Verification
// is on by default, so the probe fails and says why; tls.ca_file makes the
// same server trusted; insecure_skip_verify also gets through, and is loud.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startFake, startGateway, makeConfig, request, waitFor, unusedPort, assertCleanStop, scaled,
} from './harness.mjs';

let dir;
let server;
let port;
let device;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tiergate-tls-'));
  fs.mkdirSync(path.join(dir, 'v1'));
  fs.writeFileSync(path.join(dir, 'v1', 'models'), '{"object":"list","data":[]}');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem',
    '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, stdio: 'ignore' });
  port = await unusedPort();
  server = spawn('openssl', ['s_server', '-accept', String(port), '-cert', 'cert.pem', '-key', 'key.pem', '-WWW', '-quiet'],
    { cwd: dir, stdio: 'ignore' });
  await waitFor(() => new Promise((resolve) => {
    const probe = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`], { stdio: ['pipe', 'ignore', 'ignore'] });
    probe.stdin.end();
    probe.on('exit', (code) => resolve(code === 0));
  }), { what: 'openssl s_server listening' });
  device = await startFake({ label: 'device' });
});

after(async () => {
  server.kill('SIGKILL');
  await device.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function gatewayWithTls(tls) {
  // The handshake counts against connect_ms: an RSA handshake under a
  // sanitizer or memcheck on a busy machine can take more than the tests'
  // usual 200 ms, and this test is about certificates, not time.
  const cfg = makeConfig({
    device: device.url, cloud: `https://127.0.0.1:${port}/v1`, health: { probe_interval_ms: 300 },
    cloudTimeouts: { connect_ms: scaled(3000) },
  });
  if (tls) cfg.backends[1].tls = tls;
  return startGateway(cfg);
}

async function cloudState(gw) {
  return waitFor(async () => {
    const r = await request(gw.base, { path: '/readyz' });
    const b = r.json.backends.find((x) => x.name === 'bigcloud');
    return b.state !== 'unknown' ? b : false;
  }, { what: 'a probe of the TLS cloud' });
}

describe('upstream TLS', () => {
  it('verifies certificates by default: a self-signed server is refused, and the reason says so', async () => {
    const gw = await gatewayWithTls(null);
    const b = await cloudState(gw);
    assert.equal(b.state, 'down');
    assert.equal(b.circuit, 'open');
    assert.match(b.reason, /probe failed: .*certificate/i);
    await assertCleanStop(gw);
  });

  it('tls.ca_file makes that server trusted', async () => {
    const gw = await gatewayWithTls({ ca_file: path.join(dir, 'cert.pem') });
    const b = await cloudState(gw);
    assert.equal(b.state, 'up', JSON.stringify(b));
    assert.equal(b.circuit, 'closed');
    assert.ok(!/insecure|verification is off/i.test(gw.stderrText()), 'a warning without reason');
    await assertCleanStop(gw);
  });

  it('insecure_skip_verify gets through, and is logged loudly', async () => {
    const gw = await gatewayWithTls({ insecure_skip_verify: true });
    const b = await cloudState(gw);
    assert.equal(b.state, 'up', JSON.stringify(b));
    const warn = gw.stderrText().split('\n').filter((l) => l.includes('"level":"warn"') && /verif/i.test(l));
    assert.ok(warn.length >= 1, `no warning about TLS verification:\n${gw.stderrText()}`);
    assert.ok(warn[0].includes('bigcloud'), warn[0]);
    await assertCleanStop(gw);
  });
});
