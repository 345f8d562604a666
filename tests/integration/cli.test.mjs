// The command line: --version, --help, --check (effective config with secrets
// masked; errors that name the field), a bad config refusing to start, the
// listen port 0 log line, and an orderly stop on SIGTERM.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  runGateway, startGateway, makeConfig, request, assertCleanStop, CLOUD_KEY,
} from './harness.mjs';

const config = () => makeConfig({ device: 'http://127.0.0.1:9/v1', cloud: 'http://127.0.0.1:9/v1' });

function checkFails(cfg, fieldRe) {
  return runGateway(['--check', '--config', '{config}'], { config: cfg, env: { TEST_CLOUD_KEY: CLOUD_KEY } }).then((r) => {
    assert.equal(r.code, 1, `--check exited ${r.code ?? r.signal}; stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stderr, fieldRe, `stderr does not name the field:\n${r.stderr}`);
    return r;
  });
}

describe('command line', () => {
  it('--version prints the version and exits 0', async () => {
    const r = await runGateway(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /\d+\.\d+\.\d+/);
  });

  it('--help describes the options and exits 0', async () => {
    const r = await runGateway(['--help']);
    assert.equal(r.code, 0, r.stderr);
    const text = r.stdout + r.stderr;
    for (const opt of ['--config', '--check', '--listen', '--version']) {
      assert.ok(text.includes(opt), `--help does not mention ${opt}:\n${text}`);
    }
  });

  it('--check prints the effective config as JSON, defaults filled and the key masked', async () => {
    const r = await runGateway(['--check', '--config', '{config}'], { config: config(), env: { TEST_CLOUD_KEY: CLOUD_KEY } });
    assert.equal(r.code, 0, `--check exited ${r.code}; stderr:\n${r.stderr}`);
    let eff;
    assert.doesNotThrow(() => { eff = JSON.parse(r.stdout); }, `--check output is not JSON:\n${r.stdout}`);
    assert.ok(!r.stdout.includes(CLOUD_KEY) && !r.stderr.includes(CLOUD_KEY), 'the API key is printed');
    assert.ok(r.stdout.includes('"***"'), `the key is not shown as "***":\n${r.stdout}`);
    assert.equal(eff.backends.length, 2);
    assert.equal(eff.backends[0].name, 'local');
    assert.equal(eff.backends[1].name, 'bigcloud');
    assert.equal(eff.backends[1].api_key_env, 'TEST_CLOUD_KEY');
    assert.equal(eff.backends[0].health_path, '/models', 'default health_path');
    assert.equal(eff.backends[0].timeouts.connect_ms, 200);
    assert.equal(eff.routing.threshold, 0.5);
    assert.equal(eff.routing.fallback, true);
    assert.equal(eff.limits.max_body_bytes, 1048576);
  });

  it('--check fills defaults for a minimal config', async () => {
    const minimal = { backends: [{ name: 'd', tier: 'device', url: 'http://127.0.0.1:9/v1', model: 'm' }] };
    const r = await runGateway(['--check', '--config', '{config}'], { config: minimal });
    assert.equal(r.code, 0, r.stderr);
    const eff = JSON.parse(r.stdout);
    assert.equal(eff.listen, '127.0.0.1:8088');
    assert.equal(eff.routing.fallback, true);
    assert.equal(eff.limits.max_body_bytes, 1048576);
    assert.equal(eff.backends[0].health_path, '/models');
    assert.equal(typeof eff.backends[0].timeouts.first_byte_ms, 'number');
  });

  it('--check rejects a bad timeout, naming backends[0].timeouts.connect_ms', async () => {
    const cfg = config();
    cfg.backends[0].timeouts.connect_ms = -5;
    await checkFails(cfg, /backends\[0\]\.timeouts\.connect_ms/);
  });

  it('--check rejects a timeout of the wrong type in the second backend', async () => {
    const cfg = config();
    cfg.backends[1].timeouts.first_byte_ms = 'soon';
    await checkFails(cfg, /backends\[1\]\.timeouts\.first_byte_ms/);
  });

  it('--check rejects an unknown key, naming it', async () => {
    await checkFails({ ...config(), colour: 'blue' }, /colour/);
    const cfg = config();
    cfg.routing.treshold = 0.4;
    await checkFails(cfg, /treshold/);
  });

  it('--check rejects an unknown tier and a missing url', async () => {
    const a = config();
    a.backends[0].tier = 'moon';
    await checkFails(a, /backends\[0\]\.tier/);
    const b = config();
    delete b.backends[1].url;
    await checkFails(b, /backends\[1\]\.url/);
  });

  it('--check rejects a file that is not JSON', async () => {
    const r = await runGateway(['--check', '--config', '{config}'], { config: '{"listen": ' });
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.trim().length > 0, 'no error message');
  });

  it('a missing config file is an error, exit 1', async () => {
    const r = await runGateway(['--check', '--config', '/nonexistent/tiergate.json']);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes('/nonexistent/tiergate.json'), `error does not name the file:\n${r.stderr}`);
  });

  it('an invalid config does not start the server', async () => {
    const cfg = config();
    cfg.backends[0].timeouts.connect_ms = 0;
    const r = await runGateway(['--config', '{config}'], { config: cfg, timeoutMs: 5000 });
    assert.equal(r.timedOut, false, 'the gateway started with an invalid config');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /backends\[0\]\.timeouts\.connect_ms/);
  });

  it('listen port 0 binds an ephemeral port, logged as JSON; SIGTERM stops it with exit 0', async () => {
    const gw = await startGateway(config());
    assert.ok(gw.port > 0);
    const res = await request(gw.base, { path: '/healthz' });
    assert.equal(res.status, 200);
    const line = gw.stderrText().split('\n').find((l) => l.includes('"msg":"listening"'));
    const j = JSON.parse(line);
    assert.equal(j.listen, `127.0.0.1:${gw.port}`);
    await assertCleanStop(gw);
  });

  it('--listen overrides the config file', async () => {
    const gw = await startGateway({ ...config(), listen: '127.0.0.1:1' }, {}, { args: ['--listen', '127.0.0.1:0'] });
    assert.notEqual(gw.port, 1, '--listen was ignored');
    const res = await request(gw.base, { path: '/healthz' });
    assert.equal(res.status, 200);
    await assertCleanStop(gw);
  });
});
