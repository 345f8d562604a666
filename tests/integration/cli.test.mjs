// The command line: --version, --help, --check (effective config with secrets
// masked; errors that name the field), a bad config refusing to start, the
// listen port 0 log line, and an orderly stop on SIGTERM.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  runGateway, startGateway, makeConfig, request, assertCleanStop, CLOUD_KEY, MODEL_PATH,
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
    const minimal = {
      backends: [{ name: 'd', tier: 'device', url: 'http://127.0.0.1:9/v1', model: 'm' }],
      routing: { classifier_model: MODEL_PATH },
    };
    const r = await runGateway(['--check', '--config', '{config}'], { config: minimal });
    assert.equal(r.code, 0, r.stderr);
    const eff = JSON.parse(r.stdout);
    assert.equal(eff.listen, '127.0.0.1:8088');
    assert.equal(eff.routing.fallback, true);
    assert.equal(eff.routing.threshold, 0.25, 'default threshold');
    assert.equal(eff.routing.classifier_model, MODEL_PATH);
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

  it('the shipped configs find their model beside them, from any working directory', async () => {
    for (const name of ['demo.json', 'tiergate.json']) {
      const file = path.join(path.dirname(MODEL_PATH), name);
      const r = await runGateway(['--check', '--config', file], { env: { DEEPSEEK_API_KEY: 'sk-test' } });
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.equal(JSON.parse(r.stdout).routing.classifier_model, MODEL_PATH);
    }
  });

  it('the fleet example is valid once its state and log directories exist', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tiergate-fleet-'));
    const text = fs.readFileSync(path.join(path.dirname(MODEL_PATH), 'fleet-example.json'), 'utf8')
      .replaceAll('/var/lib/tiergate', dir).replaceAll('/var/log/tiergate', dir);
    const cfg = JSON.parse(text);
    cfg.routing.classifier_model = MODEL_PATH;
    const r = await runGateway(['--check', '--config', '{config}'], {
      config: cfg, env: { DEEPSEEK_API_KEY: 'sk-test', TIERGATE_CLIENT_KEYS: 'kiosk-1:sk-kiosk-0000000000000001' },
    });
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout);
    assert.equal(printed.budget.daily, 2);
    assert.deepEqual(printed.auth.keys, ['kiosk-1']);
    assert.equal(printed.backends[1].price.output_per_mtok, 0.42);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('a missing or corrupt classifier model stops the gateway at start, naming the file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tiergate-test-model-'));
    const good = fs.readFileSync(MODEL_PATH);
    const flipped = Buffer.from(good);
    flipped[100] ^= 0x01;
    const badMagic = Buffer.from(good);
    badMagic.write('XXXX', 0);
    const cases = [
      ['missing', null, /cannot open the classifier model: No such file/],
      ['corrupt', flipped, /checksum mismatch/],
      ['truncated', good.subarray(0, good.length - 1000), /truncated/],
      ['not a model', badMagic, /not a tiergate classifier model/],
      ['empty', Buffer.alloc(0), /not a tiergate classifier model/],
    ];
    for (const [what, bytes, re] of cases) {
      it(`${what}: exit 1 with one line naming the file, with and without --check`, async () => {
        const file = path.join(dir, `${what.replace(/ /g, '-')}.model`);
        if (bytes) fs.writeFileSync(file, bytes);
        const cfg = { ...config(), routing: { ...config().routing, classifier_model: file } };
        for (const args of [['--check', '--config', '{config}'], ['--config', '{config}']]) {
          const r = await runGateway(args, { config: cfg, env: { TEST_CLOUD_KEY: CLOUD_KEY }, timeoutMs: 5000 });
          assert.equal(r.timedOut, false, `the gateway started with a ${what} model`);
          assert.equal(r.code, 1, `exit ${r.code}; stderr:\n${r.stderr}`);
          const lines = r.stderr.trim().split('\n');
          assert.equal(lines.length, 1, `not one line:\n${r.stderr}`);
          assert.ok(lines[0].includes(file), `the error does not name ${file}:\n${r.stderr}`);
          assert.match(lines[0], re);
          assert.equal(r.stdout, '', '--check printed a config for a bad model');
        }
      });
    }
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
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

  it('a second gateway on a port in use is refused, and a restart on it right after a stop binds', async () => {
    // SO_REUSEPORT would let the second process share the port and take half
    // the connections, silently: a gateway started twice by mistake.
    const gw = await startGateway(config());
    const addr = `127.0.0.1:${gw.port}`;
    const r = await runGateway(['--config', '{config}', '--listen', addr],
      { config: config(), env: { TEST_CLOUD_KEY: CLOUD_KEY } });
    assert.notEqual(r.code, 0, `the second gateway started on ${addr}:\n${r.stderr}`);
    assert.ok(r.stderr.includes(`cannot listen on ${addr}`), r.stderr);
    assert.equal((await request(gw.base, { path: '/healthz' })).status, 200);
    await assertCleanStop(gw);
    const again = await startGateway(config(), {}, { args: ['--listen', addr] });
    assert.equal(again.port, gw.port);
    assert.equal((await request(again.base, { path: '/healthz' })).status, 200);
    await assertCleanStop(again);
  });

  it('--listen overrides the config file', async () => {
    const gw = await startGateway({ ...config(), listen: '127.0.0.1:1' }, {}, { args: ['--listen', '127.0.0.1:0'] });
    assert.notEqual(gw.port, 1, '--listen was ignored');
    const res = await request(gw.base, { path: '/healthz' });
    assert.equal(res.status, 200);
    await assertCleanStop(gw);
  });
});
