import express from 'express';
import type { Logger } from 'pino';
import request from 'supertest';
import { accessLog, createJsonLogger, pathOf, PINO_LEVELS } from './logging';

/** A logger at `level` writing into an array, one parsed object per line. */
function capture(level: Parameters<typeof createJsonLogger>[0] = 'log'): { logger: Logger; lines: Array<Record<string, unknown>>; raw: string[] } {
  const raw: string[] = [];
  const logger = createJsonLogger(level, { write: (line: string) => void raw.push(line) });
  return {
    logger,
    raw,
    get lines() {
      return raw.map((line) => JSON.parse(line) as Record<string, unknown>);
    },
  };
}

describe('createJsonLogger', () => {
  it('writes one JSON object per line with level (as a word), an ISO time and msg', () => {
    const out = capture();
    out.logger.info('hello');
    out.logger.warn({ context: 'Test' }, 'careful');
    expect(out.raw.every((line) => line.endsWith('\n') && line.indexOf('\n') === line.length - 1)).toBe(true);
    expect(out.lines).toEqual([
      expect.objectContaining({ level: 'info', msg: 'hello', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) }),
      expect.objectContaining({ level: 'warn', msg: 'careful', context: 'Test' }),
    ]);
  });

  it('maps LOG_LEVEL onto pino: log is info, verbose is trace, silent writes nothing', () => {
    expect(PINO_LEVELS).toEqual({ error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace', silent: 'silent' });
    const warn = capture('warn');
    warn.logger.info('dropped');
    warn.logger.warn('kept');
    expect(warn.lines.map((line) => line.msg)).toEqual(['kept']);
    const silent = capture('silent');
    silent.logger.error('dropped');
    expect(silent.raw).toEqual([]);
  });

  it('censors credentials wherever a logged object carries them', () => {
    const out = capture();
    out.logger.warn(
      {
        password: 'zz-pw-top',
        headers: { authorization: 'Bearer zz-tok-1', cookie: 'sid=zz-ck-1', 'set-cookie': 'sid=zz-ck-2', 'x-csrf-token': 'zz-csrf-1', accept: '*/*' },
        res: { headers: { 'set-cookie': 'sid=zz-ck-3' } },
        body: { password: 'zz-pw-1', token: 'zz-tok-2', refresh_token: 'zz-rt-1', client_secret: 'zz-cs-1', email: 'a@b.test' },
        query: { token: 'zz-tok-3' },
        currentPassword: 'zz-pw-2',
        newPassword: 'zz-pw-3',
        access_token: 'zz-at-1',
        client_assertion: 'zz-ca-1',
        csrfToken: 'zz-csrf-2',
      },
      'oops',
    );
    const [line] = out.raw;
    expect(line).not.toMatch(/zz-|Bearer|Basic/);
    expect(line).toContain('[Redacted]');
    expect(line).toContain('a@b.test');
    expect(line).toContain('*/*');
  });

  it('serializes a request as its method and path, a response as its status: never headers or the query', () => {
    const out = capture();
    const req = { method: 'GET', url: '/reset-password?token=qs-1', headers: { authorization: 'Bearer tok-1' } };
    const res = { statusCode: 200, getHeaders: () => ({ 'set-cookie': 'sid=ck-1' }) };
    out.logger.info({ req, res }, 'done');
    expect(out.lines[0]).toMatchObject({ req: { method: 'GET', path: '/reset-password' }, res: { status: 200 } });
    expect(out.raw[0]).not.toMatch(/qs-1|tok-1|ck-1|headers/);
  });
});

describe('pathOf', () => {
  it.each([
    ['/verify-email?token=abc', '/verify-email'],
    ['/a/b#frag', '/a/b'],
    ['/a?x=1#y', '/a'],
    ['/plain', '/plain'],
    ['/?', '/'],
    [undefined, ''],
  ])('%p → %p', (url, path) => {
    expect(pathOf(url)).toBe(path);
  });
});

describe('accessLog', () => {
  function app(out: ReturnType<typeof capture>) {
    const server = express();
    server.use(accessLog(out.logger));
    server.get('/ok', (_req, res) => void res.json({ ok: true }));
    server.get('/boom', (_req, res) => void res.status(500).json({ statusCode: 500 }));
    return server;
  }

  /** The access line is written on `finish`, which may come just after the client has the answer. */
  async function accessLines(out: ReturnType<typeof capture>, count: number) {
    for (let i = 0; i < 100 && out.lines.filter((line) => line.msg !== 'inside the request').length < count; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return out.lines.filter((line) => line.msg !== 'inside the request');
  }

  it('writes one line per request: reqId, method, path without the query, status, duration', async () => {
    const out = capture();
    const res = await request(app(out)).get('/ok?token=qs-secret').set('X-Request-Id', 'given-1').set('Authorization', 'Bearer tok-1');
    expect(res.headers['x-request-id']).toBe('given-1');
    const [line] = await accessLines(out, 1);
    expect(line).toEqual({
      level: 'info',
      time: expect.any(String),
      pid: expect.any(Number),
      hostname: expect.any(String),
      reqId: 'given-1',
      method: 'GET',
      path: '/ok',
      status: 200,
      duration: expect.any(Number),
      msg: 'request completed',
    });
    expect(out.raw.join('')).not.toMatch(/qs-secret|tok-1|Bearer/);
  });

  it('logs a generated id, the one echoed, and a 5xx or a 404 with its status', async () => {
    const out = capture();
    const boom = await request(app(out)).get('/boom');
    const missing = await request(app(out)).get('/missing?token=x').set('X-Request-Id', 'no spaces allowed');
    const lines = await accessLines(out, 2);
    expect(lines[0]).toMatchObject({ level: 'error', reqId: boom.headers['x-request-id'], path: '/boom', status: 500, msg: 'request completed' });
    expect(missing.headers['x-request-id']).not.toBe('no spaces allowed');
    expect(lines[1]).toMatchObject({ level: 'info', reqId: missing.headers['x-request-id'], path: '/missing', status: 404 });
  });
});
