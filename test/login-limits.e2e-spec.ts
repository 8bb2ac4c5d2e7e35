import { StorageSetup } from './support/environments';
import { expectErrorShape } from './support/contract-suite';
import { startApp, TestApp } from './support/test-app';

// Failed logins are limited per account and per client address (counters in the process
// without Redis, in Redis with it). X-Forwarded-For stands in for distinct clients.
describe.each<StorageSetup>(['sqlite', 'postgres+redis'])('login limits (%s)', (setup) => {
  let t: TestApp;
  let address = 0;
  const client = () => `198.51.100.${++address}`;

  beforeAll(async () => {
    t = await startApp(setup, {
      TRUST_PROXY: 'true',
      LOGIN_MAX_FAILURES_PER_ACCOUNT: '3',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '5',
      LOGIN_FAILURE_WINDOW_SECONDS: '60',
    });
  });
  afterAll(() => t.close());

  const attempt = (email: string, password: string, from: string, group = 'api') =>
    t.http().post(`/${group}/auth/login`).set('X-Forwarded-For', from).send({ email, password });

  it('locks an account after its limit, whatever the password and the address, with Retry-After', async () => {
    const user = await t.createUser();
    for (let i = 0; i < 3; i++) await attempt(user.email, 'wrong password', client()).expect(401);
    const locked = await attempt(user.email, user.password, client()).expect(429);
    expectErrorShape(locked.body, 429);
    const retryAfter = Number(locked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    await attempt(user.email.toUpperCase(), user.password, client(), 'web').expect(429);
  });

  it('locks an address after its limit, across accounts', async () => {
    const from = client();
    const victims = await Promise.all([t.createUser(), t.createUser(), t.createUser()]);
    for (let i = 0; i < 5; i++) await attempt(victims[i % 2].email, 'wrong password', from).expect(401);
    await attempt(victims[2].email, victims[2].password, from).expect(429);
    await attempt(victims[2].email, victims[2].password, client()).expect(200);
  });

  it('counts wrong current passwords at /auth/password/change as failed logins of the account: 429 with Retry-After, also at login', async () => {
    const user = await t.createUser();
    const login = await attempt(user.email, user.password, client()).expect(200);
    const change = (currentPassword: string) =>
      t
        .http()
        .post('/auth/password/change')
        .set('X-Forwarded-For', client())
        .set('Authorization', `Bearer ${login.body.access_token}`)
        .send({ currentPassword, newPassword: 'a changed password' });
    for (let i = 0; i < 3; i++) await change(`wrong guess ${i}`).expect(401);
    const locked = await change(user.password).expect(429);
    expectErrorShape(locked.body, 429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(60);
    // One budget for the account: the guesses made here hold its login back too.
    await attempt(user.email, user.password, client()).expect(429);
  });

  it('takes the point before the hash check: of a parallel burst of wrong current passwords, exactly the limit is checked', async () => {
    const user = await t.createUser();
    const login = await attempt(user.email, user.password, client()).expect(200);
    const burst = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        t
          .http()
          .post('/auth/password/change')
          .set('X-Forwarded-For', client())
          .set('Authorization', `Bearer ${login.body.access_token}`)
          .send({ currentPassword: `guess ${i}`, newPassword: 'a changed password' }),
      ),
    );
    expect(burst.filter((res) => res.status === 401)).toHaveLength(3);
    expect(burst.filter((res) => res.status === 429)).toHaveLength(9);
  });

  it('gives the point back when the current password is right', async () => {
    const user = await t.createUser();
    const login = await attempt(user.email, user.password, client()).expect(200);
    for (let i = 0; i < 2; i++) await attempt(user.email, 'wrong password', client()).expect(401);
    await t
      .http()
      .post('/auth/password/change')
      .set('X-Forwarded-For', client())
      .set('Authorization', `Bearer ${login.body.access_token}`)
      .send({ currentPassword: user.password, newPassword: 'a changed password' })
      .expect(204);
    await attempt(user.email, 'a changed password', client()).expect(200);
  });

  it('does not count successful logins', async () => {
    const user = await t.createUser();
    const from = client();
    for (let i = 0; i < 6; i++) await attempt(user.email, user.password, from).expect(200);
    await attempt(user.email, 'wrong password', from).expect(401);
    await attempt(user.email, user.password, from).expect(200);
  });
});

// Registrations are limited per client address; the 409 for a taken email stays as it is.
describe.each<StorageSetup>(['sqlite', 'postgres+redis'])('registration limit (%s)', (setup) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp(setup, { TRUST_PROXY: '1', REGISTER_MAX_PER_ADDRESS: '5', REGISTER_WINDOW_SECONDS: '60' });
  });
  afterAll(() => t.close());

  const register = (email: string, from: string) => t.http().post('/auth/register').set('X-Forwarded-For', from).send({ email, password: 'password123' });

  it('creates at most the limit of a parallel burst from one address, then answers 429 with Retry-After', async () => {
    const from = '192.0.2.10';
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => register(`burst${i}.${Date.now()}@example.test`, from)));
    expect(results.filter((res) => res.status === 201)).toHaveLength(5);
    const refused = results.filter((res) => res.status === 429);
    expect(refused).toHaveLength(15);
    expectErrorShape(refused[0].body, 429);
    expect(Number(refused[0].headers['retry-after'])).toBeGreaterThan(0);
    await register(`other.${Date.now()}@example.test`, '192.0.2.11').expect(201);
  });

  it('still answers 409 for an email already registered, within the limit', async () => {
    const email = `taken.${Date.now()}@example.test`;
    await register(email, '192.0.2.20').expect(201);
    expectErrorShape((await register(email.toUpperCase(), '192.0.2.20').expect(409)).body, 409);
  });
});
