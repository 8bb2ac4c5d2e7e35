import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DataSource, Logger as TypeOrmLogger } from 'typeorm';
import { AccountMailQueue } from '../src/auth/account-mail.queue';
import { MailService } from '../src/mail/mail.service';
import { UsersService } from '../src/users/users.service';
import { dropRedisKeys, StorageSetup } from './support/environments';
import { linkToken } from './support/mailbox';
import { startApp, TestApp, uniqueEmail } from './support/test-app';
import { eventually } from './support/waiting';

// What someone without an account can observe of "mail me a link" requests (forgot password,
// signed-out resend of the verification link): the answer, and the work the server does on
// behalf of that request, which is what slows it or the request that follows it. Timing either
// on a loaded machine is noise; the work is not. Every SQL statement the app sends is recorded
// through TypeORM's logger together with the request it ran for (an AsyncLocalStorage context
// per request, which follows the request's promises, setImmediate and timers). For a known and
// an unknown address the answers and the statements must be the same; the account's token and
// mail may only come from work that no request started (the queue's worker).

const requestTag = new AsyncLocalStorage<string>();
type Recorded = { tag: string | undefined; sql: string };
const N = 6;

/** Records every statement the app sends from now on, with the tag of the request it ran for. */
function recordStatements(t: TestApp): Recorded[] {
  const dataSource = t.app.get(DataSource);
  const original = dataSource.logger;
  const recorded: Recorded[] = [];
  const recorder: TypeOrmLogger = {
    logQuery(query, parameters, runner) {
      // The statement's shape: some drivers inline numbers (timestamps) into the text.
      recorded.push({
        tag: requestTag.getStore(),
        sql: query
          .replace(/\s+/g, ' ')
          .replace(/\b\d+\b/g, '#')
          .trim(),
      });
      return original.logQuery(query, parameters, runner);
    },
    logQueryError: (error, query, parameters, runner) => original.logQueryError(error, query, parameters, runner),
    logQuerySlow: (time, query, parameters, runner) => original.logQuerySlow(time, query, parameters, runner),
    logSchemaBuild: (message, runner) => original.logSchemaBuild(message, runner),
    logMigration: (message, runner) => original.logMigration(message, runner),
    log: (level, message, runner) => original.log(level, message, runner),
  };
  (dataSource as { logger: TypeOrmLogger }).logger = recorder;
  return recorded;
}

/** Serves each request in an async context named by its X-Test-Tag header. */
function tagRequests(t: TestApp): void {
  const listeners = t.server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  t.server.removeAllListeners('request');
  t.server.on('request', (req: IncomingMessage, res: ServerResponse) =>
    requestTag.run(String(req.headers['x-test-tag'] ?? 'untagged'), () => listeners.forEach((listener) => listener.call(t.server, req, res))),
  );
}

describe.each<StorageSetup>(['sqlite', 'postgres+redis'])('what an outsider observes of mail-me-a-link requests (%s)', (setup) => {
  let t: TestApp;
  let recorded: Recorded[];
  let probes = 0;

  beforeAll(async () => {
    t = await startApp(setup, { PASSWORD_RESET_MAX_PER_ADDRESS: '100000', PASSWORD_RESET_MAX_PER_ACCOUNT: '1000' });
    recorded = recordStatements(t);
    tagRequests(t);
  });
  afterAll(async () => {
    await t?.close();
    await dropRedisKeys(t?.config.redis?.keyPrefix);
  });

  const statementsOf = (tag: string) => recorded.filter((entry) => entry.tag === tag).map((entry) => entry.sql);

  /** The request, then at once the next one (a readiness check that reads the database). */
  async function probe(route: string, email: string) {
    const tag = `probe-${++probes}`;
    const answer = await t.http().post(route).set('X-Test-Tag', tag).send({ email });
    const next = await t.http().get('/health/ready').set('X-Test-Tag', `${tag}:next`);
    return {
      tag,
      seen: {
        status: answer.status,
        body: answer.body as unknown,
        headers: Object.keys(answer.headers)
          .filter((name) => name !== 'date' && name !== 'etag')
          .sort(),
        cacheControl: answer.headers['cache-control'],
        length: answer.headers['content-length'],
        nextStatus: next.status,
      },
    };
  }

  /**
   * Probes the known and the unknown addresses alternately; once every mail has gone out,
   * compares what each request and the one after it ran. Returns the probes for more checks.
   */
  async function compare(route: string, known: string[], unknown: string[], mailed: (email: string) => boolean) {
    const results: Array<Awaited<ReturnType<typeof probe>> & { known: boolean }> = [];
    for (let i = 0; i < Math.max(known.length, unknown.length); i++) {
      if (known[i]) results.push({ ...(await probe(route, known[i])), known: true });
      if (unknown[i]) results.push({ ...(await probe(route, unknown[i])), known: false });
    }
    // Every mail is out: whatever work the requests led to has been done by now.
    await eventually(async () => known.every(mailed));
    await t.app.get(MailService).idle();

    const observed = (result: (typeof results)[number]) => ({
      ...result.seen,
      statements: statementsOf(result.tag),
      nextStatements: statementsOf(`${result.tag}:next`),
    });
    const reference = observed(results.find((result) => !result.known)!);
    expect(reference.status).toBe(202);
    expect(reference.body).toEqual({});
    for (const result of results) expect({ known: result.known, ...observed(result) }).toEqual({ known: result.known, ...reference });
    // The tokens were made, but on behalf of no request.
    const issued = recorded.filter((entry) => /INSERT INTO "?one_time_tokens"?/i.test(entry.sql));
    expect(issued.length).toBeGreaterThanOrEqual(known.length);
    expect(issued.filter((entry) => entry.tag !== undefined)).toEqual([]);
  }

  it('forgot password: the same answer, and the same statements in the request and the next one, for known and unknown addresses', async () => {
    const known = await Promise.all(Array.from({ length: N }, async () => (await t.createUser()).email));
    const unknown = Array.from({ length: N }, () => uniqueEmail('nobody'));
    await compare('/auth/password/forgot', known, unknown, (email) => linkToken(t, email, '/reset-password') !== undefined);
  });

  it('signed-out resend: the same for unknown, verified and unverified addresses', async () => {
    const users = t.app.get(UsersService);
    const unverified = await Promise.all(Array.from({ length: N }, async () => (await t.createUser()).email));
    const verified = await Promise.all(
      Array.from(
        { length: N },
        async () => (await users.create({ email: uniqueEmail('verified'), password: 'correct horse battery', emailVerified: true })).email,
      ),
    );
    const unknown = Array.from({ length: N }, () => uniqueEmail('nobody'));
    await compare('/auth/email/resend', unverified, [...verified, ...unknown], (email) => linkToken(t, email, '/verify-email') !== undefined);
    await t.app.get(AccountMailQueue).idle();
    for (const email of [...verified, ...unknown]) expect(linkToken(t, email, '/verify-email')).toBeUndefined();
  });

  it('the worker runs the same statements for a known and an unknown address', async () => {
    const queue = t.app.get(AccountMailQueue);
    const workerStatements = async (emails: string[]) => {
      await queue.idle();
      const from = recorded.length;
      for (const email of emails) await t.http().post('/auth/password/forgot').send({ email }).expect(202);
      await queue.idle();
      return recorded.slice(from).filter((entry) => entry.tag === undefined && /one_time_tokens/.test(entry.sql));
    };
    const known = await Promise.all(Array.from({ length: N }, async () => (await t.createUser()).email));
    const forKnown = await workerStatements(known);
    const forUnknown = await workerStatements(Array.from({ length: N }, () => uniqueEmail('nobody')));
    expect(forKnown).toHaveLength(N);
    expect(forUnknown).toEqual(forKnown);
  });
});
