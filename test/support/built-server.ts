import { ServerProcess, startServerProcess } from './server-process';

export type Env = Record<string, string | undefined>;

export type BuiltServer = ServerProcess;

/**
 * The built server (dist/main.js) as an operator starts it, on a port the system picks. `env`
 * is its whole environment on top of this process's; resolves once it prints its listening line.
 * The same starter as the benchmark's (./server-process.js).
 */
export function startBuiltServer(env: Env): Promise<BuiltServer> {
  return startServerProcess({ env });
}
