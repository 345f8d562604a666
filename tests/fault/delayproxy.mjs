// A TCP proxy that adds latency: every piece of data, and every close, that
// arrives on one side leaves on the other side a set delay later, in order.
// The kernel here has no netem, so this is how the fault suite adds delay.
//
//   node delayproxy.mjs --listen HOST:PORT --target HOST:PORT
//
// prints "listening HOST:PORT" once it accepts connections, and reads commands
// on stdin, one a line:
//
//   delay UP DOWN      from now on hold client->target data UP ms and
//                      target->client data DOWN ms; answers "delay UP DOWN"
//
// It exits when stdin closes, so it never outlives the process that runs it.
//
// What the delay covers: the proxy terminates TCP, so the client's connect
// completes at once; the delay applies to the request's bytes on their way in
// and the answer's bytes on their way out, and to FIN and RST.  "delay 1000
// 1000" therefore adds 2 s to every request/answer round trip and so to the
// time to first byte, as a path with 1 s of extra latency each way would,
// except for the handshake.
//
// A delay change applies to data that arrives after it; data never overtakes
// earlier data, so lowering the delay releases the queue in order.

import net from 'node:net';
import readline from 'node:readline';

/**
 * Moves src's bytes, end and reset to dst, each held delayMs() ms.  Reading
 * from src pauses while dst's buffer is full, so memory stays bounded on a
 * slow link.
 */
function pipeDelayed(src, dst, delayMs) {
  const queue = [];
  let timer = null;
  let lastDue = 0;
  let ended = false;

  const deliver = (item) => {
    if (dst.destroyed) return;
    if (item.reset) {
      dst.resetAndDestroy();
    } else if (item.end) {
      dst.end();
    } else if (!dst.write(item.chunk)) {
      src.pause();
      dst.once('drain', () => src.resume());
    }
  };
  const pump = () => {
    timer = null;
    const now = Date.now();
    while (queue.length && queue[0].due <= now) deliver(queue.shift());
    if (queue.length) timer = setTimeout(pump, queue[0].due - now);
  };
  const push = (item) => {
    lastDue = Math.max(Date.now() + delayMs(), lastDue);
    queue.push({ ...item, due: lastDue });
    if (!timer) pump();
  };

  src.on('data', (chunk) => push({ chunk }));
  src.on('end', () => { ended = true; push({ end: true }); });
  // A close without a clean end (RST, or an error) is passed on as an RST.
  src.on('close', () => { if (!ended) push({ reset: true }); });
  src.on('error', () => {});
}

function parseHostPort(s, what) {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s || '');
  if (!m) throw new Error(`${what}: expected HOST:PORT, got ${JSON.stringify(s)}`);
  return { host: m[1], port: Number(m[2]) };
}

function main(argv) {
  const arg = (name) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const listen = parseHostPort(arg('--listen'), '--listen');
  const target = parseHostPort(arg('--target'), '--target');
  const delay = { up: 0, down: 0 };

  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const upstream = net.connect({ ...target, allowHalfOpen: true, noDelay: true });
    pipeDelayed(client, upstream, () => delay.up);
    pipeDelayed(upstream, client, () => delay.down);
  });
  server.listen(listen.port, listen.host, () => {
    const a = server.address();
    process.stdout.write(`listening ${a.address}:${a.port}\n`);
  });

  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const m = /^delay (\d+) (\d+)$/.exec(line.trim());
    if (!m) {
      process.stderr.write(`delayproxy: bad command ${JSON.stringify(line)}\n`);
      return;
    }
    delay.up = Number(m[1]);
    delay.down = Number(m[2]);
    process.stdout.write(`delay ${delay.up} ${delay.down}\n`);
  });
  rl.on('close', () => process.exit(0));
}

main(process.argv.slice(2));
