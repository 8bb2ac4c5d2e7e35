#!/usr/bin/env node
/*
 * npm run bench [-- --quick] [-- --seconds N --rounds N]
 *
 * Measures what each authentication strategy costs, against the production build, with real
 * Redis and PostgreSQL (as started by scripts/test-services.sh; override with BENCH_REDIS_URL
 * and BENCH_DATABASE_URL). Cases run in alternating rounds so that drift on a shared machine
 * spreads over all of them, and every figure is also given as a ratio to the public route of
 * the same run. Results: a Markdown table on stdout and in bench/results/, plus JSON.
 * Targets are checked here and reported; nothing fails on a missed target.
 */
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { generateKeyPairSync, randomBytes, randomUUID } = require('node:crypto');
const { mkdirSync, mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const autocannon = require('autocannon');
const { createClient } = require('redis');
const { Client: PgClient } = require('pg');

const ROOT = join(__dirname, '..');
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const option = (name, fallback) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const SECONDS = option('seconds', QUICK ? 2 : 10);
const ROUNDS = option('rounds', QUICK ? 1 : 3);
const CONNECTIONS = 50;
const POPULATION = QUICK ? 10_000 : 100_000;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://authswitch:authswitch@127.0.0.1:5432/authswitch_test';
const RUN_ID = randomBytes(4).toString('hex');
const HAS_TASKSET = spawnSync('taskset', ['-V']).status === 0;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (message) => process.stderr.write(`[bench] ${message}\n`);

function privateKeyPem(kind) {
  const { privateKey } =
    kind === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : kind === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ed25519');
  return privateKey.export({ format: 'pem', type: 'pkcs8' });
}

const children = [];
const tempDirs = [];
process.on('exit', () => {
  children.forEach((child) => child.kill('SIGKILL'));
  tempDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
});
// A signal sent to the bench alone (a CI timeout, `kill PID`) would end it without running the
// 'exit' handler, leaving its servers running, pinned to core 1, under the next run.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(1));

const LISTENING = /listening on http:\/\/(\[[^\]]+\]|[^\s:/]+):(\d+)/;
const tail = (text) => (text.length > 8000 ? `…${text.slice(-8000)}` : text);

/**
 * Starts a server process (pinned to core 1 when taskset exists) on a port the system picks
 * (PORT=0), and learns that port from the "listening on http://HOST:PORT" line it prints.
 *
 * This replaces picking ports from a fixed range and polling /health on them, which once failed
 * as "did not start" with an empty stderr after 30 s. That loop noticed a dead child only by
 * its exitCode, which stays null when a signal (the OOM killer, a stray kill) ends it, so such a
 * child passed for one still starting until the deadline, saying nothing. It also could not
 * tell whose server answered on the port: a leftover server from an interrupted run holding it
 * would have been benchmarked in place of the new one. Now the child's own line gives the port,
 * and any exit, by code or signal, fails at once with everything the child printed.
 */
function startProcess(label, script, env) {
  const command = HAS_TASKSET ? 'taskset' : process.execPath;
  const commandArgs = HAS_TASKSET ? ['-c', '1', process.execPath, script] : [script];
  const child = spawn(command, commandArgs, { cwd: ROOT, env: { ...process.env, ...env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  // Keep reading both pipes for the whole run: a full pipe would block the server.
  child.stdout.on('data', (chunk) => (stdout = tail(stdout + chunk)));
  child.stderr.on('data', (chunk) => (stderr = tail(stderr + chunk)));
  const failure = (why) =>
    new Error(`${label} ${why}\n--- stdout ---\n${stdout.trim() || '(empty)'}\n--- stderr ---\n${stderr.trim() || '(empty)'}`);

  const started = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(failure('did not print its listening address within 30 s (still running; killed)'));
    }, 30_000);
    child.stdout.on('data', () => {
      const match = LISTENING.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      resolve(Number(match[2]));
    });
    // 'close' rather than 'exit': by then everything the child wrote has been read.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      reject(failure(`exited before listening (${signal ? `signal ${signal}` : `exit code ${code}`})`));
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(failure(`could not be started: ${error.message}`));
    });
  });

  return started.then(async (port) => {
    const url = `http://127.0.0.1:${port}`;
    // The port is the one this child bound, so /health can only be its own; still check it.
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) }).catch((error) => ({ ok: false, status: error.message }));
    if (!res.ok) throw failure(`listens on ${port} but GET /health answered ${res.status}`);
    return { label, url, child };
  });
}

/** Stops a server started by startProcess (SIGTERM: it finishes and exits 0). */
function stopProcess({ child }) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('close', () => resolve());
    child.kill('SIGTERM');
  });
}

async function startAuthSwitch(label, algorithm, prefix, databaseUrl = DATABASE_URL) {
  const dir = mkdtempSync(join(tmpdir(), 'authswitch-bench-'));
  tempDirs.push(dir);
  const keyFile = join(dir, 'key.pem');
  writeFileSync(keyFile, privateKeyPem(algorithm));
  return startProcess(label, 'dist/main.js', {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    DATA_DIR: dir,
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    SESSION_SECRET: randomBytes(32).toString('hex'),
    JWT_PRIVATE_KEY_FILE: keyFile,
    COOKIE_SECURE: 'false',
    LOG_LEVEL: 'error',
    LOGIN_MAX_FAILURES_PER_ADDRESS: '1000000',
    // The login storm sends 50 logins at once to one account; attempts in flight hold a point.
    LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000000',
    REGISTER_MAX_PER_ADDRESS: '1000000',
  });
}

async function post(url, body, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} → ${res.status} ${text}`);
  return { res, body: text ? JSON.parse(text) : null };
}

async function cannon(options) {
  const result = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options });
  const bad = result.non2xx + result.errors + result.timeouts;
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total, bad };
}

async function main() {
  log(`${QUICK ? 'quick' : 'full'} run: ${ROUNDS} round(s) of ${SECONDS}s per case, ${CONNECTIONS} connections, population ${POPULATION}`);

  const redis = createClient({ url: REDIS_URL });
  await redis.connect();
  const pg = new PgClient({ connectionString: DATABASE_URL });
  await pg.connect();

  // Servers that start with an empty revocation state.
  const es256 = await startAuthSwitch('ES256', 'ES256', `bench:${RUN_ID}:es:`);
  const rs256 = await startAuthSwitch('RS256', 'RS256', `bench:${RUN_ID}:rs:`);
  const eddsa = await startAuthSwitch('EdDSA', 'EdDSA', `bench:${RUN_ID}:ed:`);
  const bare = await startProcess('bare NestJS', 'bench/bare-app.js', {});

  // Then the population: POPULATION revoked token ids and POPULATION users whose credential
  // version has moved, loaded at boot by a fourth server. It has a PostgreSQL schema of its own,
  // so that the servers above, which read the same revocation log, keep an empty state.
  const loadedPrefix = `bench:${RUN_ID}:loaded:`;
  const loadedSchema = `bench_${RUN_ID}`;
  await pg.query(`CREATE SCHEMA ${loadedSchema}`);
  const loadedUrl = new URL(DATABASE_URL);
  loadedUrl.searchParams.set('options', `-c search_path=${loadedSchema}`);
  // A first boot runs the migrations into the schema; the seeded state is loaded by the second.
  const migrator = await startAuthSwitch('ES256 + revocations (migrating)', 'ES256', loadedPrefix, loadedUrl.toString());
  await stopProcess(migrator);
  log(`seeding ${POPULATION} revoked token ids and ${POPULATION} users with moved credential versions`);
  const now = Date.now();
  await pg.query(
    `INSERT INTO ${loadedSchema}.revocations (kind, subject, version, expires_at, created_at)
     SELECT 'token', gen_random_uuid()::text, NULL, $1, $2 FROM generate_series(1, ${POPULATION})`,
    [now + 3600_000, now],
  );
  await pg.query(
    `INSERT INTO ${loadedSchema}.users (id, email, name, password_hash, roles, credential_version, logout_version)
     SELECT gen_random_uuid()::text, 'bench-${RUN_ID}-' || g || '@example.test', '', 'x', '["user"]', 1, 1
     FROM generate_series(1, ${POPULATION}) g`,
  );
  const loaded = await startAuthSwitch('ES256 + revocations', 'ES256', loadedPrefix, loadedUrl.toString());

  // One user, logged in on every server.
  const email = `bench-${RUN_ID}@example.test`;
  const password = 'benchmark password';
  await post(`${es256.url}/auth/register`, { email, password, name: 'Bench' });
  await post(`${loaded.url}/auth/register`, { email, password, name: 'Bench' });
  const tokenFor = async (server) => (await post(`${server.url}/api/auth/login`, { email, password })).body;
  const tokens = { es256: await tokenFor(es256), rs256: await tokenFor(rs256), eddsa: await tokenFor(eddsa), loaded: await tokenFor(loaded) };
  const sessionLogin = await post(`${es256.url}/web/auth/login`, { email, password });
  const cookie = sessionLogin.res.headers.get('set-cookie').split(';')[0];
  const bearer = (pair) => ({ authorization: `Bearer ${pair.access_token}` });

  const cases = [
    { key: 'public', label: 'public route (GET /health)', url: `${es256.url}/health` },
    { key: 'bare', label: 'bare NestJS app + helmet, same route', url: `${bare.url}/health` },
    { key: 'session', label: 'GET /web/me, Redis session', url: `${es256.url}/web/me`, headers: { cookie } },
    { key: 'jwt-es256', label: 'GET /api/me, JWT ES256', url: `${es256.url}/api/me`, headers: bearer(tokens.es256) },
    { key: 'jwt-rs256', label: 'GET /api/me, JWT RS256', url: `${rs256.url}/api/me`, headers: bearer(tokens.rs256) },
    { key: 'jwt-eddsa', label: 'GET /api/me, JWT EdDSA', url: `${eddsa.url}/api/me`, headers: bearer(tokens.eddsa) },
    { key: 'jwt-loaded', label: `GET /api/me, JWT ES256, ${POPULATION} revocations + user versions`, url: `${loaded.url}/api/me`, headers: bearer(tokens.loaded) },
  ];
  // The revocation checks (jti denylist and per-user cut-off) are always on; the "loaded"
  // server holds the population, the others an empty state. Public routes of the loaded
  // server are measured too, to keep the ratio honest on the same process.
  cases.push({ key: 'public-loaded', label: 'public route on the loaded server', url: `${loaded.url}/health` });

  // Warm-up: every case once, unrecorded, so that no case is measured on a cold JIT.
  for (const c of cases) await autocannon({ url: c.url, headers: c.headers, connections: CONNECTIONS, duration: 1 });

  const samples = Object.fromEntries(cases.map((c) => [c.key, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 ? cases : [...cases].reverse();
    for (const c of order) {
      const sample = await cannon({ url: c.url, headers: c.headers });
      if (sample.bad > 0) throw new Error(`${c.label}: ${sample.bad} failed requests`);
      samples[c.key].push(sample);
      log(`round ${round} ${c.label}: ${Math.round(sample.rps)} req/s, p99 ${sample.p99} ms`);
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const summary = Object.fromEntries(
    cases.map((c) => [c.key, { label: c.label, rps: median(samples[c.key].map((s) => s.rps)), p50: median(samples[c.key].map((s) => s.p50)), p99: median(samples[c.key].map((s) => s.p99)) }]),
  );

  // Login storm: 50 clients log in continuously while 10 clients read /api/me.
  log('login storm');
  const [storm, during] = await Promise.all([
    cannon({ url: `${es256.url}/api/auth/login`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) }),
    cannon({ url: `${es256.url}/api/me`, headers: bearer(tokens.es256), connections: 10 }),
  ]);
  if (storm.bad > 0 || during.bad > 0) throw new Error(`login storm: ${storm.bad} failed logins, ${during.bad} failed reads`);

  // Refreshes: 50 families, each always presenting its newest token. autocannon clears a
  // connection's context after every request, so the chains live in a pool: a request takes
  // a family's newest token, and its answer puts the successor back.
  log('refreshes');
  const chains = [];
  for (let i = 0; i < CONNECTIONS; i++) chains.push((await tokenFor(es256)).refresh_token);
  const refresh = await cannon({
    url: `${es256.url}/api/auth/refresh`,
    method: 'POST',
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req, context) => {
          context.token = chains.shift();
          return { ...req, body: JSON.stringify({ refresh_token: context.token }) };
        },
        onResponse: (status, body) => {
          if (status === 200) chains.push(JSON.parse(body).refresh_token);
        },
      },
    ],
  });
  if (refresh.bad > 0) throw new Error(`refreshes: ${refresh.bad} failed`);

  // Sizes: an access token, one session in Redis, and Redis memory for POPULATION sessions.
  const sessionKeys = await redis.keys(`bench:${RUN_ID}:es:sess:*`);
  const sessionValue = await redis.get(sessionKeys[0]);
  const before = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1]);
  const sizingPrefix = `bench:${RUN_ID}:sizing:sess:`;
  for (let i = 0; i < POPULATION; i += 5_000) {
    const multi = redis.multi();
    for (let j = i; j < Math.min(i + 5_000, POPULATION); j++) multi.set(`${sizingPrefix}${randomBytes(24).toString('base64url')}`, sessionValue, { EX: 600 });
    await multi.exec();
  }
  const after = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1]);

  const sizes = {
    accessTokenBytes: Buffer.byteLength(tokens.es256.access_token),
    accessTokenBytesRS256: Buffer.byteLength(tokens.rs256.access_token),
    sessionBytes: Buffer.byteLength(sessionValue),
    redisBytesPerSession: Math.round((after - before) / POPULATION),
    redisMiBForPopulation: (after - before) / 2 ** 20,
  };

  // Clean up what the run wrote.
  for (const pattern of [`bench:${RUN_ID}:*`]) {
    let cursor = '0';
    do {
      const reply = await redis.scan(cursor, { MATCH: pattern, COUNT: 5000 });
      cursor = String(reply.cursor);
      if (reply.keys.length) await redis.del(reply.keys);
    } while (cursor !== '0');
  }
  await pg.query(`DELETE FROM users WHERE email LIKE 'bench-${RUN_ID}%'`);
  await pg.query(`DROP SCHEMA ${loadedSchema} CASCADE`);
  await redis.close();
  await pg.end();

  const ratio = (key, base = 'public') => summary[key].rps / summary[base].rps;
  const targets = [
    ['JWT route ≥ 0.90× public', ratio('jwt-es256'), 0.9],
    ['Redis-session route ≥ 0.75× public', ratio('session'), 0.75],
    [`JWT with ${POPULATION} revocations ≥ 0.95× plain JWT`, summary['jwt-loaded'].rps / summary['jwt-es256'].rps, 0.95],
    ['public route ≥ 1.00× bare NestJS app (measured ±5%)', ratio('public', 'bare'), 0.95],
    ['protected p99 during login storm < 50 ms', during.p99, 50, 'max'],
  ].map(([name, value, limit, kind]) => ({ name, value, limit, met: kind === 'max' ? value < limit : value >= limit }));

  const f = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const lines = [
    `# AuthSwitch benchmark (${QUICK ? 'quick' : 'full'})`,
    '',
    `${new Date().toISOString()} · Node ${process.version} · ${require('node:os').cpus().length} cores · ${CONNECTIONS} connections · ${ROUNDS} round(s) × ${SECONDS}s per case, medians`,
    '',
    '| case | requests/s | × public | p50 ms | p99 ms |',
    '|---|---:|---:|---:|---:|',
    ...cases.map((c) => `| ${summary[c.key].label} | ${f(summary[c.key].rps)} | ${f(ratio(c.key), 2)} | ${summary[c.key].p50} | ${summary[c.key].p99} |`),
    `| logins (argon2id), 50 clients | ${f(storm.rps)} | ${f(storm.rps / summary.public.rps, 3)} | ${storm.p50} | ${storm.p99} |`,
    `| GET /api/me during the login storm (10 clients) | ${f(during.rps)} | | ${during.p50} | ${during.p99} |`,
    `| refreshes (rotation, 50 chains) | ${f(refresh.rps)} | ${f(refresh.rps / summary.public.rps, 3)} | ${refresh.p50} | ${refresh.p99} |`,
    '',
    '| size | bytes |',
    '|---|---:|',
    `| access token (ES256) | ${sizes.accessTokenBytes} |`,
    `| access token (RS256) | ${sizes.accessTokenBytesRS256} |`,
    `| one session in Redis (value) | ${sizes.sessionBytes} |`,
    `| Redis memory per session (incl. key and overhead) | ${sizes.redisBytesPerSession} |`,
    `| Redis memory for ${f(POPULATION)} sessions | ${f(sizes.redisMiBForPopulation, 1)} MiB |`,
    '',
    '| target | measured | met |',
    '|---|---:|:---:|',
    ...targets.map((t) => `| ${t.name} | ${f(t.value, 2)} | ${t.met ? 'yes' : '**no**'} |`),
    '',
  ];
  const table = lines.join('\n');
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(dir, `bench-${stamp}.md`), table);
  writeFileSync(join(dir, `bench-${stamp}.json`), JSON.stringify({ quick: QUICK, seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, population: POPULATION, summary, samples, storm, during, refresh, sizes, targets }, null, 2));
  writeFileSync(join(dir, 'latest.md'), table);
  process.stdout.write(table + '\n');
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`[bench] failed: ${error.stack ?? error}`);
    process.exit(1);
  },
);
