/**
 * The few Workers runtime shapes this package touches, declared structurally so it needs neither
 * `@cloudflare/workers-types` nor `nodejs_compat`. The real types from `@cloudflare/workers-types`
 * are assignable to these.
 */

/** The third argument of a module Worker's `fetch`. */
export interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

/** A Durable Object namespace binding (`env.MY_BINDING`), as far as the store uses it. */
export interface DurableObjectNamespaceLike<Id = unknown> {
  idFromName(name: string): Id;
  get(id: Id, options?: { locationHint?: string }): unknown;
}

/** A cursor over the rows of `ctx.storage.sql.exec`. */
export interface SqlCursor<Row> {
  toArray(): Row[];
}

/** The state a Durable Object receives: SQLite-backed storage and its alarm. */
export interface DurableObjectState {
  storage: {
    sql: { exec<Row = Record<string, unknown>>(query: string, ...bindings: unknown[]): SqlCursor<Row> };
    transactionSync<T>(fn: () => T): T;
    getAlarm(): Promise<number | null>;
    setAlarm(scheduledTime: number): Promise<void>;
  };
  blockConcurrencyWhile<T>(fn: () => Promise<T>): Promise<T>;
}
