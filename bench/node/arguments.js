// The command line of the benchmarks' Node.js servers (bench/load/node/server.js
// and bench/restart/node-cluster.js): --listen HOST:PORT and --workers N.
'use strict';

const os = require('node:os');

const maxWorkers = 1024;

// Returns { host, port, workers } from `argv`, the arguments after the
// script's name. On an invalid argument, writes "PROGRAM: message" to
// standard error and exits with status 2.
function parseArguments(argv, program) {
  const fail = (message) => {
    process.stderr.write(`${program}: ${message}\n`);
    process.exit(2);
  };
  const options = { host: '127.0.0.1', port: 8080, workers: os.availableParallelism() };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i];
    const value = argv[i + 1];
    if (name !== '--listen' && name !== '--workers') {
      fail(`unknown option '${name}'; the options are --listen HOST:PORT and --workers N`);
    }
    if (value === undefined) fail(`${name}: missing value`);
    if (name === '--listen') {
      const match = /^(.+):(\d{1,5})$/.exec(value);
      if (!match || Number(match[2]) > 65535) fail(`--listen: invalid address '${value}'; expected HOST:PORT`);
      options.host = match[1].replace(/^\[(.*)\]$/, '$1');
      options.port = Number(match[2]);
    } else {
      if (!/^[1-9]\d*$/.test(value) || Number(value) > maxWorkers) {
        fail(`--workers: invalid value '${value}'; expected a whole number from 1 to ${maxWorkers}`);
      }
      options.workers = Number(value);
    }
  }
  return options;
}

module.exports = { parseArguments };
