import { isConnectionError, StoreUnavailableError } from './store-unavailable.error';

describe('isConnectionError', () => {
  it.each([
    ['our own StoreUnavailableError', new StoreUnavailableError('redis')],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['an error object from another realm', { code: 'ECONNRESET', message: 'socket hang up' }],
    ['PostgreSQL shutting down', { code: '57P01', message: 'terminating connection due to administrator command' }],
    ['a pool whose connection died', new Error('Connection terminated unexpectedly')],
    ['a pool with no free connection in time', new Error('timeout exceeded when trying to connect')],
    ['node-redis with its socket closed', Object.assign(new Error('The client is closed'), { name: 'ClientClosedError' })],
    ['several addresses, all refused', new AggregateError([{ code: 'ECONNREFUSED' }, { code: 'ECONNREFUSED' }], 'connect failed')],
  ])('is true for %s', (_label, error) => {
    expect(isConnectionError(error)).toBe(true);
  });

  it.each([
    ['a unique violation', { code: '23505', message: 'duplicate key value violates unique constraint' }],
    ['a programming error', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a string', 'ECONNREFUSED'],
    ['null', null],
    ['an aggregate with one real bug', new AggregateError([{ code: 'ECONNREFUSED' }, new TypeError('bug')], 'mixed')],
  ])('is false for %s, which stays a 500', (_label, error) => {
    expect(isConnectionError(error)).toBe(false);
  });
});
