import { describeContract } from './support/contract-suite';

// The embedded default: SQLite file, sessions and revocations in the database, no Redis.
describe('contract on SQLite with database sessions', () => describeContract('sqlite'));
