import type { ChildProcess } from 'node:child_process';

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  base: string;
  /** What it printed so far (the last 64 kB), stdout and stderr. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then resolves once it has exited. */
  stop(): Promise<void>;
}

export function startServerProcess(options: {
  env: Record<string, string | undefined>;
  script?: string;
  label?: string;
  launcher?: string[];
  nodeArgs?: string[];
  timeoutMs?: number;
}): Promise<ServerProcess>;
