import { resolve } from "node:path";
import { createMemoryStore, type Storage } from "@portcullis/core";
import { createPostgresStore } from "@portcullis/postgres";
import { createRedisStore } from "@portcullis/redis";
import { createSqliteStore } from "@portcullis/sqlite";

/** The Node examples' default: an SQLite file beside the example, kept across restarts. */
export const DEFAULT_NODE_STORE = "sqlite:.data/portcullis.db";

/**
 * Opens the store named by `STORE`: `memory`, `sqlite:<file>` (relative to the working
 * directory), a `redis://` / `rediss://` URL (`?prefix=` sets the key prefix), or a
 * `postgres://` / `postgresql://` URL (`?schema=` sets the schema).
 */
export async function openStore(spec: string): Promise<Storage> {
  if (spec === "memory") return createMemoryStore();
  if (spec.startsWith("sqlite:")) {
    const file = spec.slice("sqlite:".length);
    if (!file) throw new Error("STORE=sqlite:<file> needs a file name");
    return createSqliteStore({ path: resolve(file) });
  }
  if (spec.startsWith("redis://") || spec.startsWith("rediss://")) {
    const url = new URL(spec);
    const keyPrefix = url.searchParams.get("prefix") ?? undefined;
    url.searchParams.delete("prefix");
    const store = createRedisStore({ url: url.href, ...(keyPrefix ? { keyPrefix } : {}) });
    await store.get("ping"); // fail at start, not at the first sign-in
    return store;
  }
  if (spec.startsWith("postgres://") || spec.startsWith("postgresql://")) {
    const store = createPostgresStore({ url: spec });
    await store.get("ping"); // fail at start (and create the schema), not at the first sign-in
    return store;
  }
  throw new Error(`STORE=${spec} is not one of memory, sqlite:<file>, redis://..., postgres://...`);
}
