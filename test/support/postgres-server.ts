import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real, private PostgreSQL instance (initdb into a temporary folder, its own port), so that
 * a test can stop the database without touching the one the other suites share. PostgreSQL
 * refuses to run as root, so its commands run as the `postgres` user.
 */
export class PrivatePostgres {
  private readonly bin: string;
  private readonly parent: string;
  private readonly dataDir: string;

  constructor(readonly port: number) {
    const version = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))[0];
    this.bin = `/usr/lib/postgresql/${version}/bin`;
    this.parent = mkdtempSync(join(tmpdir(), 'authswitch-pg-'));
    chmodSync(this.parent, 0o777);
    this.dataDir = join(this.parent, 'data');
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  init(): void {
    this.asPostgres(`${this.bin}/initdb -D ${this.dataDir} -A trust -U postgres`);
  }

  start(): void {
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dataDir}`;
    this.asPostgres(`${this.bin}/pg_ctl -D ${this.dataDir} -o "${options}" -w -t 20 start`);
  }

  stop(): void {
    this.asPostgres(`${this.bin}/pg_ctl -D ${this.dataDir} -m immediate -w stop`);
  }

  /** Stops the server if it runs and deletes its files. */
  destroy(): void {
    try {
      this.stop();
    } catch {
      // already stopped
    }
    rmSync(this.parent, { recursive: true, force: true });
  }

  private asPostgres(command: string): void {
    execFileSync('su', ['postgres', '-s', '/bin/sh', '-c', `${command} > /dev/null 2>&1`], { stdio: 'ignore', timeout: 30_000 });
  }
}
