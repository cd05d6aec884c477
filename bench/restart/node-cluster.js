// A Node.js cluster server with band's demo contract, measured by
// bench-restart as a reference: GET / returns 200 with the body
// "worker SLOT pid PID" and the header X-Worker-Pid, and the primary forks a
// replacement into the slot of any worker that exits.
//
//   node node-cluster.js [--listen HOST:PORT] [--workers N]
//
// The primary logs `listening on HOST:PORT` with the real port, as band does.
// SIGTERM or SIGINT stops the workers, then the primary exits with status 0.
'use strict';

const cluster = require('node:cluster');
const http = require('node:http');
const net = require('node:net');
const { parseArguments } = require('../node/arguments.js');

// A worker's exit status when it cannot listen. The primary then stops
// instead of forking replacements that would fail the same way.
const listenFailedStatus = 3;

function log(role, level, message) {
  process.stderr.write(`${new Date().toISOString()} ${level.padEnd(7)} [${role} pid ${process.pid}] ${message}\n`);
}

function fail(message) {
  process.stderr.write(`node-cluster.js: ${message}\n`);
  process.exit(2);
}

// Port 0 is resolved once, here, and every worker listens on the result. With
// the default round-robin scheduling the primary closes its listening socket
// when the last worker exits (Node v20, lib/internal/cluster/round_robin_handle.js),
// and a worker that listened on port 0 again would get another port.
// NOTE: between this probe socket's close and the first worker's listen,
// another program could take the port, and then the first worker fails to
// listen and the primary exits with status 1.
function resolvePort(host, port, callback) {
  if (port !== 0) return callback(port);
  const probe = net.createServer();
  probe.once('error', (error) => fail(`bind ${host}:0 failed: ${error.message}`));
  probe.listen(0, host, () => {
    const resolved = probe.address().port;
    probe.close(() => callback(resolved));
  });
}

function runPrimary(options) {
  const slots = new Map();  // worker id → { slot, port }
  let stopping = false;

  const fork = (slot, port) => {
    const worker = cluster.fork({ BENCH_SLOT: String(slot), BENCH_HOST: options.host, BENCH_PORT: String(port) });
    slots.set(worker.id, { slot, port });
    log('primary', 'info', `worker ${slot} pid ${worker.process.pid} started`);
  };

  cluster.on('exit', (worker, code, signal) => {
    const { slot, port } = slots.get(worker.id);
    slots.delete(worker.id);
    const description = signal ? `killed by ${signal}` : `exited with status ${code}`;
    if (code === listenFailedStatus && !stopping) {
      log('primary', 'error', `worker ${slot} pid ${worker.process.pid} could not listen on port ${port}; stopping`);
      stopping = true;
      process.exitCode = 1;
      for (const other of Object.values(cluster.workers)) other.process.kill('SIGTERM');
    }
    if (stopping) {
      log('primary', 'info', `worker ${slot} pid ${worker.process.pid} ${description}`);
      if (slots.size === 0) process.exit();
      return;
    }
    log('primary', 'warning', `worker ${slot} pid ${worker.process.pid} ${description}; replacing it`);
    fork(slot, port);
  });

  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    log('primary', 'info', `received ${signal}; stopping ${slots.size} workers`);
    if (slots.size === 0) process.exit();
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  resolvePort(options.host, options.port, (port) => {
    const scheduling = cluster.schedulingPolicy === cluster.SCHED_RR ? 'round-robin' : 'shared accept';
    log('primary', 'info', `node ${process.version}, cluster scheduling ${scheduling}`);
    log('primary', 'info', `listening on ${net.isIPv6(options.host) ? `[${options.host}]` : options.host}:${port}`);
    for (let slot = 0; slot < options.workers; ++slot) fork(slot, port);
  });
}

function runWorker() {
  const slot = process.env.BENCH_SLOT;
  const body = `worker ${slot} pid ${process.pid}\n`;
  const server = http.createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/') {
      response.writeHead(200, { 'Content-Type': 'text/plain', 'X-Worker-Pid': String(process.pid) });
      response.end(body);
    } else {
      response.writeHead(404, { 'Content-Type': 'text/plain' });
      response.end('not found\n');
    }
  });
  server.on('error', (error) => {
    log(`worker ${slot}`, 'error', `listen on ${process.env.BENCH_HOST}:${process.env.BENCH_PORT} failed: ${error.message}`);
    process.exit(listenFailedStatus);
  });
  server.listen(Number(process.env.BENCH_PORT), process.env.BENCH_HOST);
  process.on('SIGTERM', () => process.exit(0));
  // Ctrl-C reaches the whole process group, but the primary stops the workers.
  process.on('SIGINT', () => {});
}

if (cluster.isPrimary) {
  runPrimary(parseArguments(process.argv.slice(2), 'node-cluster.js'));
} else {
  runWorker();
}
