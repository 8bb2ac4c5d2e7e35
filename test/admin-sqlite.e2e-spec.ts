import { describeAdministration } from './support/admin-suite';

// Administration on the embedded default: SQLite, database sessions, counters in memory.
describe('administration on SQLite', () => describeAdministration('sqlite'));
