import { describeContract } from './support/contract-suite';

// The production shape: PostgreSQL for users and refresh tokens, Redis for sessions,
// revocations and login counters (real servers started by scripts/test-services.sh).
describe('contract on PostgreSQL with Redis', () => describeContract('postgres+redis'));
