import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The authswitch-* folders in the system temp dir right now. */
export function leftoverFolders(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith('authswitch-'));
}

// Jest runs every selected project's global setup one after the other, in its own process,
// before any test: this flag on the global object makes a run of both the `sqlite` and the
// `services` projects build dist/ once. The global teardown clears it (each --watch run builds).
const PREPARED = Symbol.for('authswitch.test.runPrepared');
type WithFlag = typeof globalThis & { [PREPARED]?: boolean };

/**
 * What every e2e run needs, done once per run whichever projects it includes (`sqlite`,
 * `services`): a snapshot of the temp dir for the teardown's leftover check, and dist/ built,
 * for the suites that spawn the real server or CLI (dist/main.js, dist/cli.js).
 */
export async function prepareRun(): Promise<void> {
  const holder = globalThis as WithFlag;
  if (holder[PREPARED]) return;
  // What was already in the temp dir, so that the teardown blames only this run.
  process.env.AUTHSWITCH_TEMP_BEFORE_TESTS = leftoverFolders().join('\n');
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
