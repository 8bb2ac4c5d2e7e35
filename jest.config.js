// Three projects, so that the everyday loop needs no servers:
//   unit      src/**/*.spec.ts: no global setup at all
//   sqlite    e2e suites on SQLite only (no Redis, no PostgreSQL); the global setup builds dist/
//   services  e2e suites that need Redis and PostgreSQL (scripts/test-services.sh): dist/ as
//             above, plus a Redis check and a per-run PostgreSQL schema
// `npm run test:sqlite` runs unit + sqlite; `npm test` (CI) runs all three.
// A new e2e suite lands in `services` unless it is listed below: list it only if it never
// touches Redis or PostgreSQL (no 'postgres+redis' setup, TEST_REDIS_URL or TEST_DATABASE_URL).
const SQLITE_SUITES = [
  'admin-sqlite',
  'browser',
  'cli',
  'host-app',
  'host-extras',
  'json-logs',
  'key-rotation',
  'mail',
  'openapi',
  'packed-host',
  'route-groups',
  'sqlite',
];

/** What every project shares: TypeScript through ts-jest, Node, the temp-folder cleanup hook. */
const base = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  setupFilesAfterEnv: ['<rootDir>/test/support/cleanup.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true }],
  },
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 30000,
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  projects: [
    {
      ...base,
      displayName: 'unit',
      testMatch: ['<rootDir>/src/**/*.spec.ts'],
    },
    {
      ...base,
      displayName: 'sqlite',
      testMatch: SQLITE_SUITES.map((name) => `<rootDir>/test/${name}.e2e-spec.ts`),
      // Builds dist/ (once per run, shared with the services setup) and notes the temp dir.
      globalSetup: '<rootDir>/test/global-setup.ts',
      // One file for both e2e projects, so that Jest runs it once: temp-folder check, schema drop.
      globalTeardown: '<rootDir>/test/global-teardown.ts',
    },
    {
      ...base,
      displayName: 'services',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...SQLITE_SUITES.map((name) => `<rootDir>/test/${name}\\.e2e-spec\\.ts$`)],
      globalSetup: '<rootDir>/test/global-setup-services.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
    },
  ],
};
