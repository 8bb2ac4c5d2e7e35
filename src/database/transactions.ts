import { DataSource, EntityManager } from 'typeorm';

/** PostgreSQL's answers that mean "run it again": serialization failure, deadlock. */
const RETRYABLE = new Set(['40001', '40P01']);
const ATTEMPTS = 3;

// SQLite has one connection, shared by every query runner: two transactions open at once would
// nest into each other. Its writes are serialized by the file lock anyway, so transactions
// take turns here, one per data source. A single statement of another request that runs while
// a transaction is open joins it; so a transaction body must not fail on purpose once it has
// started (check first, then open the transaction), and nothing else opens transactions.
// On PostgreSQL every transaction has a pooled connection of its own.
const sqliteTurns = new WeakMap<DataSource, Promise<unknown>>();

/**
 * Runs `work` in one transaction: everything it writes commits together or not at all.
 * On PostgreSQL a transaction that lost a deadlock or serialization conflict is retried.
 */
export async function inTransaction<T>(dataSource: DataSource, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  if (dataSource.options.type !== 'postgres') {
    const previous = sqliteTurns.get(dataSource) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => dataSource.transaction(work));
    sqliteTurns.set(dataSource, run);
    return run;
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await dataSource.transaction(work);
    } catch (error) {
      const code = (error as { code?: unknown; driverError?: { code?: unknown } }).driverError?.code ?? (error as { code?: unknown }).code;
      if (attempt >= ATTEMPTS || typeof code !== 'string' || !RETRYABLE.has(code)) throw error;
    }
  }
}
