import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createClient } from 'redis';
import { BuiltServer, Env, startBuiltServer } from './support/built-server';
import { freshDataDir, TEST_DATABASE_URL, TEST_REDIS_URL } from './support/environments';
import { uniqueEmail } from './support/test-app';

const COOKIE_WARNING = 'Session cookies are Secure but no proxy is trusted';
const warnings = (output: string) => output.split(COOKIE_WARNING).length - 1;

type Server = BuiltServer;

const dataDirs: string[] = [];
const redisPrefixes: string[] = [];
const running: ChildProcess[] = [];

/** The built server; nothing from the outer environment may decide storage, cookies or proxies. */
async function startServer(env: Env): Promise<Server> {
  const dataDir = freshDataDir();
  dataDirs.push(dataDir);
  const server = await startBuiltServer({
    NODE_ENV: 'development',
    DATABASE_URL: undefined,
    REDIS_URL: undefined,
    COOKIE_SECURE: undefined,
    TRUST_PROXY: undefined,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    ...env,
  });
  running.push(server.child);
  return server;
}

interface Answer {
  status?: number;
  connection?: string;
  body?: string;
  error?: string;
  at: number;
}

/**
 * A login on its own connection (or a kept-alive one): `sent` once the request is written,
 * `answer` once answered or failed (never rejected).
 */
function login(port: number, body: object, agent: Agent | false): { sent: Promise<void>; answer: Promise<Answer> } {
  let markSent!: () => void;
  const sent = new Promise<void>((resolve) => (markSent = resolve));
  const answer = new Promise<Answer>((resolve) => {
    const payload = JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/auth/login',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, body: text, at: Date.now() }));
        res.on('error', (error) => resolve({ error: error.message, at: Date.now() }));
      },
    );
    req.on('error', (error) => {
      markSent();
      resolve({ error: error.message, at: Date.now() });
    });
    req.on('finish', markSent);
    req.end(payload);
  });
  return { sent, answer };
}

function tryConnect(port: number): Promise<'connected' | string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the built server: shutdown and start-up messages', () => {
  afterAll(async () => {
    for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
    if (redisPrefixes.length === 0) return;
    const redis = createClient({ url: TEST_REDIS_URL });
    await redis.connect();
    try {
      for (const prefix of redisPrefixes) {
        for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length) await redis.del(keys);
      }
    } finally {
      await redis.close();
    }
  });

  it('on SIGTERM finishes requests in flight, refuses new connections, closes its stores and exits 0', async () => {
    const prefix = `test:shutdown:${randomBytes(6).toString('hex')}:`;
    redisPrefixes.push(prefix);
    const server = await startServer({
      DATABASE_URL: TEST_DATABASE_URL,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      // One hash at a time: the logins below queue and stay in flight for a while.
      PASSWORD_HASH_CONCURRENCY: '1',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '10000',
    });
    const email = uniqueEmail('shutdown');
    const password = 'shutdown password';
    const registered = await fetch(`http://127.0.0.1:${server.port}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    expect(registered.status).toBe(201);

    // A kept-alive connection, open and idle before the logins start.
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const warmUp = await login(server.port, { email, password }, keepAlive).answer;
    expect(warmUp).toMatchObject({ status: 200, connection: 'keep-alive' });

    // Six logins on connections of their own, then one on the kept-alive connection, which
    // queues last for argon2 and so is still in flight at the signal.
    const inFlight = Array.from({ length: 6 }, (_v, i) => login(server.port, { email, password: i % 2 ? password : 'wrong password' }, false));
    await Promise.all(inFlight.map((l) => l.sent));
    const kept = login(server.port, { email, password }, keepAlive);
    inFlight.push(kept);
    await kept.sent;
    // Once one is answered, the server has taken all the connections in (its event loop has
    // turned since); the rest wait their turn for argon2.
    await Promise.race(inFlight.map((l) => l.answer));
    await sleep(10);
    const signalledAt = Date.now();
    server.child.kill('SIGTERM');

    // New connections are refused while the process is still alive, finishing the others.
    let refusedAt = 0;
    while (Date.now() - signalledAt < 2000) {
      if ((await tryConnect(server.port)) === 'ECONNREFUSED') {
        refusedAt = Date.now();
        break;
      }
      await sleep(5);
    }
    const stillRunning = server.child.exitCode === null && server.child.signalCode === null;

    const answers = await Promise.all(inFlight.map((l) => l.answer));
    const { code, signal } = await server.exited;
    keepAlive.destroy();

    for (const answer of answers) {
      expect(answer.error).toBeUndefined();
      expect([200, 401]).toContain(answer.status);
      expect(() => JSON.parse(answer.body!)).not.toThrow();
    }
    expect(answers.filter((a) => a.status === 200)).toHaveLength(4);
    expect(answers.filter((a) => a.status === 401)).toHaveLength(3);
    expect(refusedAt).toBeGreaterThan(0);
    expect(stillRunning).toBe(true);
    // Some logins were answered only after new connections were already refused, and those
    // answers told the client not to reuse their connection.
    const late = answers.filter((a) => a.at > refusedAt);
    expect(late.length).toBeGreaterThan(0);
    for (const answer of late) expect(answer.connection).toBe('close');
    // Including the one on the kept-alive connection, when its response was still under way
    // at the signal (argon2's queue usually, but not always, serves it last).
    const keptAnswer = await kept.answer;
    expect(keptAnswer.status).toBe(200);
    if (keptAnswer.at > signalledAt) expect(keptAnswer.connection).toBe('close');
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    // The kept-alive connection did not hold the exit up until its keep-alive timeout (5 s).
    expect(Date.now() - signalledAt).toBeLessThan(4000);
    expect(server.output()).not.toMatch(/Shutdown failed|took more than|Error/);
  });

  it('exits 0 on SIGINT too', async () => {
    const server = await startServer({});
    expect((await fetch(`http://127.0.0.1:${server.port}/health`)).status).toBe(200);
    server.child.kill('SIGINT');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  describe('warns once when Secure cookies cannot work', () => {
    function productionEnv(): Env {
      const keyDir = freshDataDir();
      dataDirs.push(keyDir);
      const keyFile = join(keyDir, 'jwt-key.pem');
      writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
      return { NODE_ENV: 'production', SESSION_SECRET: randomBytes(32).toString('hex'), JWT_PRIVATE_KEY_FILE: keyFile };
    }

    async function startupOutput(env: Env): Promise<string> {
      const server = await startServer(env);
      server.child.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
      return server.output();
    }

    it('in production without a trusted proxy (Secure by default)', async () => {
      const output = await startupOutput(productionEnv());
      expect(warnings(output)).toBe(1);
      expect(output).toMatch(/HTTPS|TLS/);
      expect(output).toMatch(/TRUST_PROXY/);
    });

    it('in development with COOKIE_SECURE=true', async () => {
      const output = await startupOutput({ COOKIE_SECURE: 'true' });
      expect(warnings(output)).toBe(1);
    });

    it('but not behind a trusted proxy, nor with plain cookies', async () => {
      expect(warnings(await startupOutput({ ...productionEnv(), TRUST_PROXY: '1' }))).toBe(0);
      expect(warnings(await startupOutput({ COOKIE_SECURE: 'false' }))).toBe(0);
    });
  });
});
