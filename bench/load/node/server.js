// The demo application of band in Node.js, for bench/load: GET / returns 200
// with the body "worker SLOT pid PID" and the header X-Worker-Pid; GET
// /work?ms=N burns N ms of CPU first; anything else gets 404.
//
//   node server.js [--listen HOST:PORT] [--workers N]
//
// Run by node itself, the primary forks N workers with the cluster module
// (scheduling from NODE_CLUSTER_SCHED_POLICY: rr or none), logs
// `listening on HOST:PORT` once every worker listens, and on SIGTERM or
// SIGINT stops the workers and exits with status 0. A worker that dies is
// not replaced: the primary stops the rest and exits with status 1.
// Run by PM2 in cluster mode, the script is already a worker: it serves,
// with PM2's instance number as its slot.
'use strict';

const cluster = require('node:cluster');
const http = require('node:http');
const { parseArguments } = require('../../node/arguments.js');

const maxWorkMs = 60000;
// How long a stopping primary waits for its workers before it exits anyway.
const stopGraceMs = 5000;

function log(message) {
  const role = cluster.isPrimary ? 'primary' : 'worker';
  process.stderr.write(`${new Date().toISOString()} [${role} pid ${process.pid}] ${message}\n`);
}

// Spends `ms` of the process's CPU time (user and system, all threads) in a
// loop that blocks the event loop, as band's /work does with its thread's.
function burnCpu(ms) {
  const start = process.cpuUsage();
  const budgetUs = ms * 1000;
  for (;;) {
    const used = process.cpuUsage(start);
    if (used.user + used.system >= budgetUs) return;
  }
}

function runWorker(options, slot) {
  const pid = String(process.pid);
  const body = Buffer.from(`worker ${slot} pid ${pid}\n`);
  const rootHeaders = { 'Content-Type': 'text/plain', 'Content-Length': body.length, 'X-Worker-Pid': pid };

  const server = http.createServer((request, response) => {
    const question = request.url.indexOf('?');
    const path = question < 0 ? request.url : request.url.slice(0, question);
    if (request.method === 'GET' && path === '/work') {
      const ms = new URLSearchParams(request.url.slice(question + 1)).get('ms');
      if (question < 0 || !/^\d+$/.test(ms ?? '') || Number(ms) > maxWorkMs) {
        const text = `/work needs ms=N with N from 0 to ${maxWorkMs}\n`;
        response.writeHead(400, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text), 'X-Worker-Pid': pid });
        response.end(text);
        return;
      }
      burnCpu(Number(ms));
    } else if (request.method !== 'GET' || path !== '/') {
      response.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': 10, 'X-Worker-Pid': pid });
      response.end('not found\n');
      return;
    }
    response.writeHead(200, rootHeaders);
    response.end(body);
  });
  server.on('error', (error) => {
    log(`listen on ${options.host}:${options.port} failed: ${error.message}`);
    process.exit(1);
  });
  server.listen(options.port, options.host);
}

function runPrimary(options) {
  let stopping = false;
  let listening = 0;

  cluster.on('listening', (worker, address) => {
    listening += 1;
    if (listening !== options.workers) return;
    const scheduling = cluster.schedulingPolicy === cluster.SCHED_RR ? 'round-robin' : 'shared accept';
    log(`node ${process.version}, ${options.workers} workers, cluster scheduling ${scheduling}`);
    const host = address.address.includes(':') ? `[${address.address}]` : address.address;
    log(`listening on ${host}:${address.port}`);
  });

  cluster.on('exit', (worker, code, signal) => {
    const description = signal ? `killed by ${signal}` : `exited with status ${code}`;
    if (!stopping) {
      log(`worker pid ${worker.process.pid} ${description}; stopping, because this server restarts nothing`);
      stop(1);
      return;
    }
    if (Object.keys(cluster.workers).length === 0) process.exit(process.exitCode);
  });

  const stop = (status) => {
    if (stopping) return;
    stopping = true;
    process.exitCode = status;
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
    if (Object.keys(cluster.workers).length === 0) process.exit(status);
    setTimeout(() => {
      log(`workers still running ${stopGraceMs} ms after SIGTERM; exiting without them`);
      process.exit(status);
    }, stopGraceMs).unref();
  };
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));

  for (let slot = 0; slot < options.workers; ++slot) cluster.fork({ BENCH_SLOT: String(slot) });
}

const options = parseArguments(process.argv.slice(2), 'server.js');
if (cluster.isPrimary) {
  runPrimary(options);
} else {
  // BENCH_SLOT comes from runPrimary; NODE_APP_INSTANCE from PM2.
  runWorker(options, process.env.BENCH_SLOT ?? process.env.NODE_APP_INSTANCE ?? '0');
}
