// Starts the built server (or another entry point of dist/) as an operator would, on a port the
// system picks, and resolves once the child itself has printed the address it bound. One starter
// for the e2e tests (test/support/built-server.ts) and the benchmark (bench/run.js), plain
// JavaScript so that the bench needs no TypeScript.
'use strict';
const { spawn } = require('node:child_process');
const { join } = require('node:path');

const ROOT = join(__dirname, '..', '..');
// The line the child prints once it has bound its port: `AuthSwitch listening on http://HOST:PORT (...`.
const LISTENING = /listening on http:\/\/(\[[^\]]+\]|[^\s:/]+):(\d+)/;
/** Enough of what a child printed to explain a failure, without growing for a whole bench. */
const KEEP_OUTPUT = 64 * 1024;

/**
 * @param {object} options
 * @param {Record<string, string | undefined>} options.env the environment on top of this process's
 * @param {string} [options.script] the entry point, relative to the repository (dist/main.js)
 * @param {string} [options.label] names the child in errors
 * @param {string[]} [options.launcher] a command that runs node (e.g. taskset -c 1), before it
 * @param {string[]} [options.nodeArgs] node's own arguments (e.g. -r a preload)
 * @param {number} [options.timeoutMs] how long it may take to print its listening line
 */
function startServerProcess({ env, script = 'dist/main.js', label = 'server', launcher = [], nodeArgs = [], timeoutMs = 20_000 }) {
  const argv = [...launcher, process.execPath, ...nodeArgs, script];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  // Keep reading both pipes for the child's whole life: a full pipe would block the server.
  const keep = (chunk) => {
    output += chunk;
    if (output.length > KEEP_OUTPUT) output = output.slice(-KEEP_OUTPUT);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  // 'close' rather than 'exit': by then everything the child wrote has been read.
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const failure = (why) => new Error(`${label} ${why}:\n${output.trim() || '(no output)'}`);
  const stop = () => {
    if (child.exitCode !== null || child.signalCode !== null) return exited.then(() => undefined);
    child.kill('SIGTERM');
    return exited.then(() => undefined);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(failure(`printed no listening line within ${timeoutMs / 1000} s (killed)`));
    }, timeoutMs);
    child.stdout.on('data', () => {
      const match = LISTENING.exec(output);
      if (!match) return;
      clearTimeout(timer);
      const port = Number(match[2]);
      resolve({ child, port, base: `http://127.0.0.1:${port}`, output: () => output, exited, stop });
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(failure(`could not be started (${error.message})`));
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(failure(`exited before listening (${signal ? `signal ${signal}` : `exit code ${code}`})`));
    });
  });
}

module.exports = { startServerProcess };
