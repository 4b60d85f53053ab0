import pg from "pg";

export const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/**
 * Undefined when a PostgreSQL server answers within about two seconds; otherwise why not, printed
 * as the reason the calling suite skips. Under CI a missing server is an error: CI must run them.
 */
export async function postgresSkipReason(suite: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2_000 });
  client.on("error", () => {});
  let reason: string | undefined;
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (error) {
    reason = `no PostgreSQL server at ${POSTGRES_URL} (${error instanceof Error ? error.message || error.name : String(error)})`;
  } finally {
    await client.end().catch(() => {});
  }
  if (reason && process.env.CI) throw new Error(`${reason}; CI must run the PostgreSQL tests`);
  if (reason) console.warn(`[${suite}] skipped: ${reason}`);
  return reason;
}

/**
 * A schema of its own for one test file, dropped by `drop()`: `url` selects it, `name` is it.
 */
export function freshSchema(tag: string): { name: string; url: string; drop(): Promise<void> } {
  const name = `pt_${tag}_${process.pid}_${Date.now().toString(36)}`;
  const url = new URL(POSTGRES_URL);
  url.searchParams.set("schema", name);
  return {
    name,
    url: url.href,
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      client.on("error", () => {});
      try {
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(name)} CASCADE`);
      } finally {
        await client.end().catch(() => {});
      }
    },
  };
}
