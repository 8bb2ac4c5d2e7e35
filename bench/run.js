#!/usr/bin/env node
/*
 * npm run bench [-- --quick] [-- --seconds N --rounds N] [-- --only KEY,KEY] [-- --clients N] [-- --memo-size N]
 *
 * Measures what each authentication strategy costs, against the production build, with real
 * Redis and PostgreSQL (as started by scripts/test-services.sh; override with BENCH_REDIS_URL
 * and BENCH_DATABASE_URL). Cases run in alternating rounds so that drift on a shared machine
 * spreads over all of them, and every figure is also given as a ratio to the public route of
 * the same run. Results: a Markdown table on stdout and in bench/results/, plus JSON.
 * Targets are checked here and reported; nothing fails on a missed target.
 *
 * --only KEY,KEY measures only those cases (keys as in the JSON results) and the public routes
 * their ratios need, and skips the login storm, the refreshes, the Redis sizing and the
 * revocation lag. --logouts N sets how many logouts the revocation lag is measured over
 * (default 200; 30 in quick mode).
 * --clients N sets the working set of the many-clients case (default 100,000; 25,000 in quick
 * mode). --memo-size N passes JWT_VERIFIED_CACHE_SIZE=N to the servers; without it they get the
 * bench's own environment, so a JWT_VERIFIED_CACHE_SIZE set there reaches them too.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { createPrivateKey, generateKeyPairSync, randomBytes, randomUUID, sign: cryptoSign } = require('node:crypto');
const { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const autocannon = require('autocannon');
const { createClient } = require('redis');
const { Client: PgClient } = require('pg');
const { startServerProcess } = require('../test/support/server-process');

const ROOT = join(__dirname, '..');
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const option = (name, fallback) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const stringOption = (name) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : undefined;
};
const SECONDS = option('seconds', QUICK ? 2 : 10);
const ROUNDS = option('rounds', QUICK ? 1 : 3);
const CONNECTIONS = 50;
const POPULATION = QUICK ? 10_000 : 100_000;
// The many-clients working set. Quick mode (CI) uses fewer to stay short, but more than 20,000,
// the memo size the server had until now, so that quick runs also show a memo that is too small.
const CLIENTS = option('clients', QUICK ? 25_000 : 100_000);
const ONLY = stringOption('only')?.split(',').filter(Boolean) ?? null;
// The verified-token memo size the servers run with, as far as the bench can know: the servers
// inherit the bench's environment, and --memo-size overrides it; otherwise the server's default.
const MEMO_SIZE = stringOption('memo-size') ?? process.env.JWT_VERIFIED_CACHE_SIZE;
const MEMO_SIZE_TEXT = MEMO_SIZE ? `JWT_VERIFIED_CACHE_SIZE=${MEMO_SIZE}` : 'default (JWT_VERIFIED_CACHE_SIZE not set)';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://authswitch:authswitch@127.0.0.1:5432/authswitch_test';
const RUN_ID = randomBytes(4).toString('hex');
const LOGOUTS = option('logouts', QUICK ? 30 : 200);
const HAS_TASKSET = spawnSync('taskset', ['-V']).status === 0;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (message) => process.stderr.write(`[bench] ${message}\n`);
const f = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function privateKeyPem(kind) {
  const { privateKey } = kind === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
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
 * and any exit, by code or signal, fails at once with everything the child printed. The same
 * starter (test/support/server-process.js) starts the e2e tests' servers.
 */
function startProcess(label, script, env) {
  const started = startServerProcess({
    env: { ...env, HOST: env.HOST ?? '127.0.0.1' },
    script,
    label,
    launcher: HAS_TASKSET ? ['taskset', '-c', '1'] : [],
    timeoutMs: 30_000,
  });
  started.then(
    ({ child }) => children.push(child),
    () => undefined,
  );
  const failure = (why, server) => new Error(`${label} ${why}\n${server.output().trim()}`);
  return started.then(async (server) => {
    const url = server.base;
    // The port is the one this child bound, so /health can only be its own; still check it.
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) }).catch((error) => ({ ok: false, status: error.message }));
    if (!res.ok) throw failure(`listens on ${server.port} but GET /health answered ${res.status}`, server);
    return { label, url, child: server.child };
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

async function startAuthSwitch(label, algorithm, prefix, databaseUrl = DATABASE_URL, env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'authswitch-bench-'));
  tempDirs.push(dir);
  const keyFile = join(dir, 'key.pem');
  const pem = privateKeyPem(algorithm);
  writeFileSync(keyFile, pem);
  const server = await startProcess(label, 'dist/main.js', {
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
    ...(MEMO_SIZE ? { JWT_VERIFIED_CACHE_SIZE: MEMO_SIZE } : {}),
    ...env,
  });
  // The bench holds the signing key, so that it can mint tokens the server accepts.
  return { ...server, privateKey: createPrivateKey(pem) };
}

/** Resident memory of a server process in bytes (VmRSS from /proc/PID/status), null without /proc. */
function residentBytes({ child }) {
  // With taskset the child's PID is still the server's: taskset execs node in its own process.
  const status = (() => {
    try {
      return readFileSync(`/proc/${child.pid}/status`, 'utf8');
    } catch {
      return '';
    }
  })();
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : null;
}

// Node options for a server whose memory is read with memoryAfterGc (see bench/gc-probe.js).
const GC_PROBE_NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --expose-gc --require "${join(__dirname, 'gc-probe.js')}"`.trim();

/**
 * The memory of a server started with GC_PROBE_NODE_OPTIONS, garbage excluded: a full collection
 * (twice, half a second apart: V8 hands freed pages back only after a collection finds them
 * free), then its VmRSS and the live JS heap the probe reports, in bytes.
 */
async function memoryAfterGc(server) {
  let heapUsed = null;
  for (let i = 0; i < 2; i++) {
    heapUsed = await new Promise((resolve, reject) => {
      let text = '';
      const onData = (chunk) => {
        text += chunk;
        const match = /bench gc (\{[^\n]*\})\n/.exec(text);
        if (!match) return;
        done();
        resolve(JSON.parse(match[1]).heapUsed);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${server.label} did not answer the GC probe (SIGUSR2) within 10 s`));
      }, 10_000);
      const done = () => {
        clearTimeout(timer);
        server.child.stdout.off('data', onData);
      };
      server.child.stdout.on('data', onData);
      server.child.kill('SIGUSR2');
    });
    await sleep(500);
  }
  return { rss: residentBytes(server), heapUsed };
}

// How node:crypto computes each JWS algorithm (RFC 7518): the digest, and for ECDSA the raw r‖s
// signature that JWS uses in place of DER.
const JWS = {
  ES256: { digest: 'sha256', dsaEncoding: 'ieee-p1363' },
  ES384: { digest: 'sha384', dsaEncoding: 'ieee-p1363' },
  ES512: { digest: 'sha512', dsaEncoding: 'ieee-p1363' },
  RS256: { digest: 'sha256' },
  RS384: { digest: 'sha384' },
  RS512: { digest: 'sha512' },
  EdDSA: { digest: null },
};
const decodeJwtPart = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

/**
 * Access tokens the server has never seen, made from one it issued: its header kept byte for
 * byte (alg, kid, typ) and its payload copied whole with only `jti` replaced by a fresh UUID,
 * signed with the server's own key. Copying rather than rebuilding the claims keeps the tokens
 * valid when the server adds or checks more claims. Returns ready `authorization` header values,
 * so that the load generator only picks one per request. About 50 µs a token for ES256.
 */
function mintBearers(accessToken, privateKey, count) {
  const [headerPart, payloadPart] = accessToken.split('.');
  const header = decodeJwtPart(headerPart);
  const payload = decodeJwtPart(payloadPart);
  const jws = JWS[header.alg];
  if (!jws) throw new Error(`cannot mint ${header.alg} tokens: add the algorithm to JWS in bench/run.js`);
  if (typeof payload.jti !== 'string') throw new Error('the server issued an access token without jti: minted tokens would not be distinct');
  const bearers = new Array(count);
  for (let i = 0; i < count; i++) {
    payload.jti = randomUUID();
    const signingInput = `${headerPart}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    const signature = cryptoSign(jws.digest, Buffer.from(signingInput), { key: privateKey, dsaEncoding: jws.dsaEncoding });
    bearers[i] = `Bearer ${signingInput}.${signature.toString('base64url')}`;
  }
  return { bearers, exp: payload.exp };
}

async function post(url, body, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url} → ${res.status} ${text}`);
  return { res, body: text ? JSON.parse(text) : null };
}

// The busiest second of any run so far (any case, any server): what sizes the cold-token pool.
let busiestSecond = 0;

async function cannon(options) {
  const result = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options });
  busiestSecond = Math.max(busiestSecond, result.requests.max);
  const bad = result.non2xx + result.errors + result.timeouts;
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total, bad };
}

/**
 * One run of a case. A case gives fixed headers, or load(seconds), which returns autocannon
 * options made for this run (per-request tokens), and may check its own run afterwards.
 */
async function runCase(c, seconds) {
  const options = c.load ? await c.load(seconds) : { headers: c.headers };
  const sample = await cannon({ url: c.url, duration: seconds, ...options });
  c.check?.(sample);
  return sample;
}

/**
 * The samples of one metric family in the Prometheus text format, as { labels, value }: enough
 * for the histogram read here (its label values hold no quotes or commas).
 */
function samplesOf(text, name) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue; // comments (# HELP, # TYPE) and other families
    const [, sampleName, labelText = '', value] = /^(\S+?)(?:\{(.*)\})? (\S+)/.exec(line);
    const labels = Object.fromEntries(
      labelText
        .split(',')
        .filter(Boolean)
        .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 2, -1)]),
    );
    samples.push({ name: sampleName, labels, value: Number(value) });
  }
  return samples;
}

/** A histogram read from /metrics: cumulative counts by upper bound (seconds, Infinity last), and the count. */
async function histogramOf(server, token, name) {
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`${server.label}: GET /metrics answered ${res.status}`);
  const samples = samplesOf(await res.text(), name);
  const buckets = samples
    .filter((sample) => sample.name === `${name}_bucket`)
    .map((sample) => ({ le: sample.labels.le === '+Inf' ? Infinity : Number(sample.labels.le), count: sample.value }))
    .sort((x, y) => x.le - y.le);
  return { buckets, count: samples.find((sample) => sample.name === `${name}_count`)?.value ?? 0 };
}

/**
 * The q-quantile of the observations between two reads of a histogram, interpolated linearly
 * within its bucket (as Prometheus' histogram_quantile does): an estimate, as fine as the buckets.
 * In seconds; Infinity when it falls in the +Inf bucket.
 */
function histogramQuantile(q, before, after) {
  const buckets = after.buckets.map((bucket, i) => ({ le: bucket.le, count: bucket.count - (before.buckets[i]?.count ?? 0) }));
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) return le === Infinity ? Infinity : lower + ((le - lower) * (rank - below)) / Math.max(1, count - below);
    lower = le;
    below = count;
  }
  return Infinity;
}

const percentile = (values, q) => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};

/**
 * Revocation lag across two instances: two servers on one PostgreSQL schema of their own and one
 * Redis prefix, LOGOUTS logouts on A one after another (each a fresh token, minted from one
 * login), and B's authswitch_revocation_lag_seconds histogram (commit on A → broadcast applied on
 * B) read before and after. Its p50/p99 are estimates within buckets; A's logout round trip is
 * measured exactly and bounds the lag from above, since A answers only once B has acknowledged.
 */
async function measureRevocationLag(pg) {
  const schema = `bench_${RUN_ID}_lag`;
  await pg.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const token = randomBytes(24).toString('base64url');
  const prefix = `bench:${RUN_ID}:lag:`;
  const servers = [];
  try {
    // A first (its boot migrates the schema), then B.
    const a = await startAuthSwitch('lag A', 'ES256', prefix, url.toString(), { METRICS_TOKEN: token });
    servers.push(a);
    const b = await startAuthSwitch('lag B', 'ES256', prefix, url.toString(), { METRICS_TOKEN: token });
    servers.push(b);
    const email = `bench-${RUN_ID}-lag@example.test`;
    const password = 'benchmark password';
    await post(`${a.url}/auth/register`, { email, password, name: 'Bench' });
    const login = (await post(`${a.url}/api/auth/login`, { email, password })).body;
    const { bearers } = mintBearers(login.access_token, a.privateKey, LOGOUTS);
    const name = 'authswitch_revocation_lag_seconds';
    const before = await histogramOf(b, token, name);
    const roundTrips = [];
    for (const authorization of bearers) {
      const started = performance.now();
      const res = await fetch(`${a.url}/api/auth/logout`, { method: 'POST', headers: { authorization, 'content-type': 'application/json' }, body: '{}' });
      roundTrips.push(performance.now() - started);
      if (res.status !== 204) throw new Error(`revocation lag: logout on A answered ${res.status} ${await res.text()}`);
    }
    // Each was applied on B before A answered; a broadcast that was lost (B then reads the log)
    // is not observed, and shows as fewer observations than logouts.
    let after = await histogramOf(b, token, name);
    for (let waited = 0; after.count - before.count < LOGOUTS && waited < 5000; waited += 100) {
      await sleep(100);
      after = await histogramOf(b, token, name);
    }
    const ms = (seconds) => (seconds === null ? null : seconds * 1000);
    return {
      logouts: LOGOUTS,
      observedOnB: after.count - before.count,
      histogramP50Ms: ms(histogramQuantile(0.5, before, after)),
      histogramP99Ms: ms(histogramQuantile(0.99, before, after)),
      roundTripP50Ms: percentile(roundTrips, 0.5),
      roundTripP99Ms: percentile(roundTrips, 0.99),
    };
  } finally {
    await Promise.all(servers.map(stopProcess));
    await pg.query(`DROP SCHEMA ${schema} CASCADE`);
  }
}

/** A duration in ms as the lag table shows it. */
const lagCell = (value) => (value === null ? 'n/a' : value === Infinity ? '> 10,000' : f(value, 2));

async function main() {
  log(
    `${QUICK ? 'quick' : 'full'} run: ${ROUNDS} round(s) of ${SECONDS}s per case, ${CONNECTIONS} connections, population ${POPULATION}, ${CLIENTS} clients, memo size ${MEMO_SIZE_TEXT}`,
  );

  const redis = createClient({ url: REDIS_URL });
  await redis.connect();
  const pg = new PgClient({ connectionString: DATABASE_URL });
  await pg.connect();

  // Servers that start with an empty revocation state.
  const es256 = await startAuthSwitch('ES256', 'ES256', `bench:${RUN_ID}:es:`);
  const rs256 = await startAuthSwitch('RS256', 'RS256', `bench:${RUN_ID}:rs:`);
  const bare = await startProcess('bare NestJS', 'bench/bare-app.js', {});
  // The many-clients case has a server of its own: any other token would take a place in its
  // memo, and an LRU memo even one entry short of a round-robin working set misses every time
  // (each miss evicts the token needed soonest). Its tokens are minted once and must last the
  // whole run, hence access tokens that live for hours there (the request path ignores the TTL).
  // It also carries the GC probe, so that the memo's memory can be read without the garbage.
  const many = await startAuthSwitch('ES256, many clients', 'ES256', `bench:${RUN_ID}:many:`, DATABASE_URL, {
    ACCESS_TOKEN_TTL_SECONDS: String(6 * 3600),
    NODE_OPTIONS: GC_PROBE_NODE_OPTIONS,
  });

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
  const tokens = { es256: await tokenFor(es256), rs256: await tokenFor(rs256), loaded: await tokenFor(loaded), many: await tokenFor(many) };
  const sessionLogin = await post(`${es256.url}/web/auth/login`, { email, password });
  const cookie = sessionLogin.res.headers.get('set-cookie').split(';')[0];
  const bearer = (pair) => ({ authorization: `Bearer ${pair.access_token}` });

  const cases = [
    { key: 'public', label: 'public route (GET /health)', url: `${es256.url}/health` },
    { key: 'bare', label: 'bare NestJS app + helmet, same route', url: `${bare.url}/health` },
    { key: 'session', label: 'GET /web/me, Redis session', url: `${es256.url}/web/me`, headers: { cookie } },
    { key: 'jwt-es256', label: 'GET /api/me, JWT ES256', url: `${es256.url}/api/me`, headers: bearer(tokens.es256) },
    { key: 'jwt-rs256', label: 'GET /api/me, JWT RS256', url: `${rs256.url}/api/me`, headers: bearer(tokens.rs256) },
    {
      key: 'jwt-loaded',
      label: `GET /api/me, JWT ES256, ${POPULATION} revocations + user versions`,
      url: `${loaded.url}/api/me`,
      headers: bearer(tokens.loaded),
    },
  ];
  // The revocation checks (jti denylist and per-user cut-off) are always on; the "loaded"
  // server holds the population, the others an empty state. Public routes of the loaded
  // server are measured too, to keep the ratio honest on the same process.
  cases.push({ key: 'public-loaded', label: 'public route on the loaded server', url: `${loaded.url}/health` });

  // Tokens the server has not verified before. Every case above repeats one token, which the
  // server verifies once and then recalls from its verified-token memo; these two cases measure
  // the requests that the memo does not cover, or should.
  //
  // One minted token through es256 first, so that a minting mistake fails here, plainly.
  const probe = mintBearers(tokens.es256.access_token, es256.privateKey, 1).bearers[0];
  const probed = await fetch(`${es256.url}/api/me`, { headers: { authorization: probe } });
  if (!probed.ok) throw new Error(`es256 refused a minted token: ${probed.status} ${await probed.text()}`);

  // Cold: es256 gets a token it has never seen on every request, so each one pays the full
  // signature check. It is the server of the plain ES256 case, so the two rows differ by exactly
  // that check. A token is never sent twice: before each run (warm-up included) the pool is
  // topped up, outside the timed part, to what the busiest second of any case so far would use
  // over the run and a second more, ×1.25. A protected route does not outrun a public one, so the
  // pool cannot run dry; if it does all the same, the bench fails rather than report the run.
  const cold = { source: '', exp: 0, bearers: [], next: 0, first: 0, minted: 0, taken: 0 };
  cases.push({
    key: 'jwt-cold',
    label: 'GET /api/me, JWT ES256, a token never seen before on every request',
    url: `${es256.url}/api/me`,
    load: async (seconds) => {
      // Minted tokens keep the exp of the login they copy (15 minutes by default): when the
      // next run could outlast it, drop the pool and copy a fresh login.
      if (cold.exp < Date.now() / 1000 + seconds + 60) {
        cold.source = (await tokenFor(es256)).access_token;
        cold.exp = decodeJwtPart(cold.source.split('.')[1]).exp;
        cold.bearers = [];
        cold.next = 0;
      }
      const want = Math.ceil(busiestSecond * 1.25 * (seconds + 1)) + CONNECTIONS;
      const left = cold.bearers.length - cold.next;
      if (left < want) {
        cold.bearers = cold.bearers.slice(cold.next).concat(mintBearers(cold.source, es256.privateKey, want - left).bearers);
        cold.next = 0;
        cold.minted += want - left;
      }
      cold.first = cold.next;
      return {
        requests: [
          {
            // Called for every request (and once per connection as it opens); buildRequest gives
            // each call a headers object of its own, so setting the header in place is safe.
            setupRequest: (req) => {
              req.headers.authorization = cold.bearers[cold.next++ % cold.bearers.length];
              return req;
            },
          },
        ],
      };
    },
    check: () => {
      if (cold.next > cold.bearers.length) {
        throw new Error(
          `cold JWT: a run took ${cold.next - cold.first} tokens from a pool of ${cold.bearers.length - cold.first}, so it repeated tokens; raise the margin in load()`,
        );
      }
      cold.taken += cold.next - cold.first;
    },
  });

  // Many clients: CLIENTS tokens, each sent in turn (token i, i+1, … wrapping), after one
  // unrecorded pass over all of them. If the server's memo holds the working set, every measured
  // request is a memo hit and the row matches the plain JWT case; if not, every request pays the
  // signature check, as in the cold case. Ratios are to this server's own public route.
  const crowd = { bearers: [], exp: 0, next: 0 };
  const crowdRequests = () => [
    {
      setupRequest: (req) => {
        req.headers.authorization = crowd.bearers[crowd.next];
        crowd.next = (crowd.next + 1) % crowd.bearers.length;
        return req;
      },
    },
  ];
  const memo = { size: MEMO_SIZE_TEXT, clients: CLIENTS };
  cases.push({ key: 'public-many', label: 'public route on the many-clients server', url: `${many.url}/health` });
  cases.push({
    key: 'jwt-many',
    label: `GET /api/me, JWT ES256, ${f(CLIENTS)} clients' tokens round-robin, each seen before`,
    url: `${many.url}/api/me`,
    base: 'public-many',
    warmUp: async () => {
      log(`minting ${f(CLIENTS)} tokens for the many-clients case`);
      Object.assign(crowd, mintBearers(tokens.many.access_token, many.privateKey, CLIENTS), { next: 0 });
      // The pass: every token once, in order, each connection taking the next. It runs after the
      // server's other warm-up (its public route), and what the memo keeps of it shows as the
      // growth of the server's memory over it, each side read after a full collection.
      const before = await memoryAfterGc(many);
      const pass = await cannon({ url: `${many.url}/api/me`, amount: CLIENTS, requests: crowdRequests() });
      if (pass.bad > 0 || crowd.next !== 0)
        throw new Error(`many clients: the warm-up pass had ${pass.bad} failed requests (${crowd.next} tokens past a whole pass)`);
      const after = await memoryAfterGc(many);
      const per100k = (from, to) => (from === null || to === null ? null : ((to - from) / 1e6) * (100_000 / CLIENTS));
      Object.assign(memo, {
        passRps: pass.rps,
        rssBefore: before.rss,
        rssAfter: after.rss,
        heapBefore: before.heapUsed,
        heapAfter: after.heapUsed,
        mbPer100k: per100k(before.rss, after.rss),
        heapMbPer100k: per100k(before.heapUsed, after.heapUsed),
      });
      log(
        `many clients: warm-up pass over ${f(CLIENTS)} new tokens at ${f(pass.rps)} req/s; server VmRSS ${f(before.rss / 1e6)} → ${f(after.rss / 1e6)} MB, live heap ${f(before.heapUsed / 1e6)} → ${f(after.heapUsed / 1e6)} MB`,
      );
    },
    load: async (seconds) => {
      if (crowd.exp < Date.now() / 1000 + seconds + 5)
        throw new Error('many clients: the tokens expire during the next run; raise ACCESS_TOKEN_TTL_SECONDS for that server');
      // The pass, and each run, go on from where the last one stopped, keeping the order cyclic.
      return { requests: crowdRequests() };
    },
  });

  if (ONLY) {
    const unknown = ONLY.filter((key) => !cases.some((c) => c.key === key));
    if (unknown.length) throw new Error(`--only: no case ${unknown.join(', ')} (cases: ${cases.map((c) => c.key).join(', ')})`);
    // The public route stays, and any other route a selected case is compared with.
    const keep = new Set(['public', ...ONLY, ...cases.filter((c) => ONLY.includes(c.key) && c.base).map((c) => c.base)]);
    cases.splice(0, cases.length, ...cases.filter((c) => keep.has(c.key)));
  }

  // Warm-up: every case once, unrecorded, so that no case is measured on a cold JIT.
  for (const c of cases) await (c.warmUp ? c.warmUp() : runCase(c, 1));

  const samples = Object.fromEntries(cases.map((c) => [c.key, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 ? cases : [...cases].reverse();
    for (const c of order) {
      const sample = await runCase(c, SECONDS);
      if (sample.bad > 0) throw new Error(`${c.label}: ${sample.bad} failed requests`);
      samples[c.key].push(sample);
      log(`round ${round} ${c.label}: ${Math.round(sample.rps)} req/s, p99 ${sample.p99} ms`);
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const summary = Object.fromEntries(
    cases.map((c) => [
      c.key,
      {
        label: c.label,
        rps: median(samples[c.key].map((s) => s.rps)),
        p50: median(samples[c.key].map((s) => s.p50)),
        p99: median(samples[c.key].map((s) => s.p99)),
      },
    ]),
  );

  // The login storm, the refreshes and the Redis sizing run unless --only picked cases.
  const extras = !ONLY;
  let storm = null;
  let during = null;
  let refresh = null;
  let lag = null;
  if (!extras) log('revocation lag: skipped (--only measures the chosen cases alone)');
  let sizes = { accessTokenBytes: Buffer.byteLength(tokens.es256.access_token), accessTokenBytesRS256: Buffer.byteLength(tokens.rs256.access_token) };
  if (extras) {
    // Login storm: 50 clients log in continuously while 10 clients read /api/me.
    log('login storm');
    [storm, during] = await Promise.all([
      cannon({
        url: `${es256.url}/api/auth/login`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password }),
      }),
      cannon({ url: `${es256.url}/api/me`, headers: bearer(tokens.es256), connections: 10 }),
    ]);
    if (storm.bad > 0 || during.bad > 0) throw new Error(`login storm: ${storm.bad} failed logins, ${during.bad} failed reads`);

    // Refreshes: 50 families, each always presenting its newest token. autocannon clears a
    // connection's context after every request, so the chains live in a pool: a request takes
    // a family's newest token, and its answer puts the successor back.
    log('refreshes');
    const chains = [];
    for (let i = 0; i < CONNECTIONS; i++) chains.push((await tokenFor(es256)).refresh_token);
    refresh = await cannon({
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

    log(`revocation lag: ${LOGOUTS} logouts on A, read on B`);
    lag = await measureRevocationLag(pg);

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

    sizes = {
      ...sizes,
      sessionBytes: Buffer.byteLength(sessionValue),
      redisBytesPerSession: Math.round((after - before) / POPULATION),
      redisMiBForPopulation: (after - before) / 2 ** 20,
    };
  }

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
  // With --only, a target is checked when the cases it compares were measured.
  const measured = (...keys) => keys.every((key) => key in summary);
  const targets = [
    measured('jwt-es256') && ['JWT route, token seen before ≥ 0.90× public', ratio('jwt-es256'), 0.9],
    measured('session') && ['Redis-session route ≥ 0.85× public', ratio('session'), 0.85],
    measured('jwt-cold') && ['JWT route, token never seen (cold) ≥ 0.55× public', ratio('jwt-cold'), 0.55],
    measured('jwt-many', 'public-many') && ['JWT route, 100,000 clients round-robin ≥ 0.85× public †', ratio('jwt-many', 'public-many'), 0.85],
    measured('jwt-loaded', 'jwt-es256') && [`JWT with ${POPULATION} revocations ≥ 0.95× plain JWT`, summary['jwt-loaded'].rps / summary['jwt-es256'].rps, 0.95],
    measured('bare') && ['public route ≥ 1.00× bare NestJS app (measured ±5%)', ratio('public', 'bare'), 0.95],
    during && ['protected p99 during login storm < 50 ms', during.p99, 50, 'max'],
  ]
    .filter(Boolean)
    .map(([name, value, limit, kind]) => ({ name, value, limit, met: kind === 'max' ? value < limit : value >= limit }));

  // Rows compared with another server's public route than es256's are marked †.
  const ratioCell = (c) => `${f(ratio(c.key, c.base), 2)}${c.base ? ' †' : ''}`;
  const memoLines = [];
  if ('jwt-cold' in summary) {
    memoLines.push(
      `- cold JWT: every request carried a token es256 had never seen, none sent twice. The pool is larger than any run can send (before each run it is topped up to the busiest second measured ×1.25 for the run and a second more), so runs never stop early; the bench fails if one empties it. ${f(cold.taken)} tokens taken of ${f(cold.minted)} minted.`,
    );
  }
  if ('jwt-many' in summary) {
    memoLines.push(
      `- many clients: ${f(CLIENTS)} distinct tokens round-robin${CLIENTS === 100_000 ? '' : ` (fewer than 100,000${QUICK ? ' in quick mode' : ''})`}, measured after one pass over all of them (${f(memo.passRps)} req/s, every token new). ${f(ratio('jwt-many', 'public-many'), 2)}× its server's public route.`,
      memo.mbPer100k === null
        ? '- memo memory per 100,000 tokens: n/a (no /proc to read VmRSS from)'
        : `- memo memory per 100,000 tokens: ${f(memo.mbPer100k)} MB (server VmRSS ${f(memo.rssBefore / 1e6)} → ${f(memo.rssAfter / 1e6)} MB over that pass, each read after a full GC${CLIENTS === 100_000 ? '' : `, ×${f(100_000 / CLIENTS, 2)}`}), of which ${f(memo.heapMbPer100k)} MB live JS heap (${f(memo.heapBefore / 1e6)} → ${f(memo.heapAfter / 1e6)} MB); the rest is heap room V8 keeps in proportion to what lives. Only the tokens the memo kept count: at most its size.`,
    );
  }
  const lines = [
    `# AuthSwitch benchmark (${QUICK ? 'quick' : 'full'})`,
    '',
    `${new Date().toISOString()} · Node ${process.version} · ${require('node:os').cpus().length} cores · ${CONNECTIONS} connections · ${ROUNDS} round(s) × ${SECONDS}s per case, medians`,
    '',
    '| case | requests/s | × public | p50 ms | p99 ms |',
    '|---|---:|---:|---:|---:|',
    ...cases.map((c) => `| ${summary[c.key].label} | ${f(summary[c.key].rps)} | ${ratioCell(c)} | ${summary[c.key].p50} | ${summary[c.key].p99} |`),
    ...(extras
      ? [
          `| logins (argon2id), 50 clients | ${f(storm.rps)} | ${f(storm.rps / summary.public.rps, 3)} | ${storm.p50} | ${storm.p99} |`,
          `| GET /api/me during the login storm (10 clients) | ${f(during.rps)} | | ${during.p50} | ${during.p99} |`,
          `| refreshes (rotation, 50 chains) | ${f(refresh.rps)} | ${f(refresh.rps / summary.public.rps, 3)} | ${refresh.p50} | ${refresh.p99} |`,
        ]
      : []),
    '',
    ...(cases.some((c) => c.base) ? ["† × the public route of the same server (the many-clients server), not es256's.", ''] : []),
    ...(memoLines.length ? [`Verified-token memo (size: ${MEMO_SIZE_TEXT}):`, '', ...memoLines, ''] : []),
    ...(lag
      ? [
          `Revocation lag across two instances (commit on A → applied on B), ${f(lag.logouts)} logouts on A one at a time, ${f(lag.observedOnB)} observed on B:`,
          '',
          '| measure | p50 ms | p99 ms |',
          '|---|---:|---:|',
          `| B's authswitch_revocation_lag_seconds (estimated within its buckets) | ${lagCell(lag.histogramP50Ms)} | ${lagCell(lag.histogramP99Ms)} |`,
          `| logout round trip on A (answers once B has applied it: an upper bound) | ${lagCell(lag.roundTripP50Ms)} | ${lagCell(lag.roundTripP99Ms)} |`,
          '',
        ]
      : []),
    '| size | bytes |',
    '|---|---:|',
    `| access token (ES256) | ${sizes.accessTokenBytes} |`,
    `| access token (RS256) | ${sizes.accessTokenBytesRS256} |`,
    ...(extras
      ? [
          `| one session in Redis (value) | ${sizes.sessionBytes} |`,
          `| Redis memory per session (incl. key and overhead) | ${sizes.redisBytesPerSession} |`,
          `| Redis memory for ${f(POPULATION)} sessions | ${f(sizes.redisMiBForPopulation, 1)} MiB |`,
        ]
      : []),
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
  writeFileSync(
    join(dir, `bench-${stamp}.json`),
    JSON.stringify(
      {
        quick: QUICK,
        seconds: SECONDS,
        rounds: ROUNDS,
        connections: CONNECTIONS,
        population: POPULATION,
        only: ONLY,
        clients: CLIENTS,
        summary,
        samples,
        storm,
        during,
        refresh,
        revocationLag: lag,
        sizes,
        coldTokens: { minted: cold.minted, taken: cold.taken },
        memo,
        targets,
      },
      null,
      2,
    ),
  );
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
