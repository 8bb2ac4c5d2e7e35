import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Each run writes its temp folders (data dirs, keys, private PostgreSQL clusters, browser
 * profiles) inside a folder of its own, which the teardown checks and removes: runs side by
 * side (two checkouts, a developer and CI) never blame each other for a leftover.
 */
function useRunTempDir(): void {
  if (process.env.AUTHSWITCH_RUN_TMPDIR) return;
  const runDir = mkdtempSync(join(tmpdir(), 'authswitch-run-'));
  // Traversable by the postgres user, whose private clusters live below it.
  chmodSync(runDir, 0o711);
  process.env.AUTHSWITCH_OUTER_TMPDIR = process.env.TMPDIR ?? '';
  process.env.AUTHSWITCH_RUN_TMPDIR = runDir;
  // Read by os.tmpdir() here, in the Jest workers and in every process they start.
  process.env.TMPDIR = runDir;
}

// Jest runs every selected project's global setup one after the other, in its own process,
// before any test: this flag on the global object makes a run of both the `sqlite` and the
// `services` projects build dist/ once. The global teardown clears it (each --watch run builds).
const PREPARED = Symbol.for('authswitch.test.runPrepared');
type WithFlag = typeof globalThis & { [PREPARED]?: boolean };

/**
 * What every e2e run needs, done once per run whichever projects it includes (`sqlite`,
 * `services`): a temp folder of its own for the teardown's leftover check, and dist/ built,
 * for the suites that spawn the real server or CLI (dist/main.js, dist/cli.js).
 */
export async function prepareRun(): Promise<void> {
  const holder = globalThis as WithFlag;
  if (holder[PREPARED]) return;
  useRunTempDir();
  // Built once here, rather than in each suite, where two parallel builds would race.
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: join(__dirname, '..'), stdio: 'inherit', timeout: 180_000 });
  holder[PREPARED] = true;
}

/** Forgets that this run is prepared (the teardown, or a global setup that failed). */
export function forgetPreparedRun(): void {
  delete (globalThis as WithFlag)[PREPARED];
}

/** Global setup of the `sqlite` project: no Redis, no PostgreSQL. */
export default async function globalSetup(): Promise<void> {
  await prepareRun();
}
