/**
 * A Portcullis server under load: the authorization server and a guarded MCP-like endpoint
 * (POST /mcp -> {"ok":true}) mounted through one adapter, on one store.
 *
 * argv[2]: {"adapter":"hono"|"express"|"node", "store":"memory"|"sqlite"|"redis"|"postgres",
 *           "maxEntries"?: N, "freshTokens"?: N, "refreshTokens"?: N, "liveGrants"?: N,
 *           "refreshTokenFile"?: path}
 *
 * Fixtures, prepared before the server reports ready:
 * - one access token from a real authorization flow (authorize -> completeAuthorization -> token);
 * - `liveGrants` grants, each with a live refresh token, written straight into the store in
 *   the core's record format (`grant:<id>`, `refresh:<sha256>`): a real flow per grant would take
 *   hours for a million. Memory and Redis get them through `storage.set` (Redis pipelines a batch
 *   of 10,000 at a time); SQLite gets them through a second better-sqlite3 connection to the same
 *   file, 50,000 rows per transaction, in the row format the store writes (checked against a
 *   record the store itself wrote first): through the store, 150k grants took 21 s. PostgreSQL
 *   gets them through a pool of its own, 5,000 rows per multi-row INSERT, checked the same way.
 *   `refreshTokens` of those (more are attached to the same grants when there are fewer grants
 *   than tokens) go to the load generator, one per request: rotation makes each single-use. One
 *   extra is spent in-process first, through the authorization server, proving the records are
 *   valid. With `refreshTokenFile` (the harness pairs this server, as a baseline, with another
 *   whose tokens it must accept), the tokens are those of the file instead of new ones;
 * - `freshTokens` access tokens, each issued by a real refresh grant through `server.fetch`.
 */
import { createHash, randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RequestListener } from "node:http";
import { getRequestListener } from "@hono/node-server";
import express from "express";
import { Hono } from "hono";
import type BetterSqlite3 from "better-sqlite3";
import { createAuthorizationServer, createMemoryStore, createResourceGuard, type Storage } from "@portcullis/core";
import { bearerAuth, oauthRoutes } from "@portcullis/hono";
import { argConfig, fail, listenLoopback, onStop, POSTGRES_BENCH_URL, refreshTokensFor, reportReady, writeLines, type ReadyInfo } from "./common.js";

interface Config {
  adapter: "hono" | "express" | "node";
  store: "memory" | "sqlite" | "redis" | "postgres";
  maxEntries?: number;
  freshTokens?: number;
  refreshTokens?: number;
  liveGrants?: number;
  refreshTokenFile?: string;
}

const CLIENT_ID = "pub";
const REDIRECT_URI = "http://127.0.0.1:33418/callback";
const SCOPES = ["mcp:tools"];
const REFRESH_TTL_SECONDS = 3600;

const config = argConfig<Config>();
const { port, origin, attach } = await listenLoopback();
const resource = `${origin}/mcp`;
const facts: Record<string, string | number> = {};
let sqlitePath: string | undefined;
const postgresSchema = `portcullis_bench_${process.pid}`;
const storage = await openStore(config);

const server = createAuthorizationServer({
  issuer: origin,
  resource,
  scopes: { "mcp:tools": "Use the tools" },
  storage,
  interactionUrl: "/login",
  clients: [{ client_id: CLIENT_ID, redirect_uris: [REDIRECT_URI], grant_types: ["authorization_code", "refresh_token"] }],
  refreshTokenTtlSeconds: REFRESH_TTL_SECONDS,
  // Off for the measurement, as for the SDK baseline: the load comes from one client on loopback.
  rateLimit: false,
});
const guard = createResourceGuard({ resource, authorizationServers: [origin], verifier: server, requiredScopes: SCOPES });

let listener: RequestListener;
if (config.adapter === "hono") {
  const app = new Hono();
  app.use(oauthRoutes(server, guard));
  app.post("/mcp", bearerAuth(guard), (c) => c.json({ ok: true }));
  listener = getRequestListener(app.fetch);
} else if (config.adapter === "express") {
  // Imported only when used: the other adapters and stores may not exist yet in a given checkout.
  const { oauthRouter, requireBearerAuth } = await import("@portcullis/express");
  const app = express();
  app.use(oauthRouter(server, guard));
  app.post("/mcp", requireBearerAuth(guard), (_req, res) => void res.json({ ok: true }));
  listener = app;
} else if (config.adapter === "node") {
  const { toNodeListener, withBearerAuth } = await import("@portcullis/node");
  const mcp = withBearerAuth(guard, (_req, res) => {
    res.writeHead(200, { "Content-Type": "application/json" }).end('{"ok":true}');
  });
  listener = toNodeListener(server, guard, mcp) as RequestListener;
} else {
  fail(`unknown adapter ${String(config.adapter)}`);
}

const { accessToken } = await signIn();
const info: ReadyInfo = { port, token: accessToken, badToken: breakSignature(accessToken), files: {}, facts };

if (config.freshTokens) {
  const refresh = await preload(config.freshTokens, config.freshTokens);
  const started = performance.now();
  const tokens = await mapConcurrent(refresh, 8, async (token) => (await refreshGrant(token)).access_token);
  facts.freshTokensIssuedSeconds = round((performance.now() - started) / 1000);
  info.files!.accessTokens = await writeLines("access", tokens);
}
if (config.refreshTokens) {
  // A paired baseline's tokens are the measured server's (none otherwise: preload draws its own).
  const given = refreshTokensFor(config.refreshTokenFile, 0, () => "");
  const spendable = await preload(config.liveGrants ?? config.refreshTokens, Math.max(config.refreshTokens, given.length) + 1, given);
  await refreshGrant(spendable.pop()!);
  info.files!.refreshTokens = await writeLines("refresh", spendable);
}
attach(listener);
await reportReady(info);

async function openStore(c: Config): Promise<Storage> {
  if (c.store === "memory") return createMemoryStore(c.maxEntries ? { maxEntries: c.maxEntries } : {});
  if (c.store === "sqlite") {
    const { createSqliteStore } = await import("@portcullis/sqlite");
    const path = join(tmpdir(), `portcullis-bench-${process.pid}.db`);
    sqlitePath = path;
    const store = createSqliteStore({ path });
    onStop(async () => {
      await store.close?.();
      for (const suffix of ["", "-wal", "-shm"]) await rm(path + suffix, { force: true });
    });
    return store;
  }
  if (c.store === "redis") {
    const { createRedisStore } = await import("@portcullis/redis");
    const keyPrefix = `portcullis-bench:${process.pid}:`;
    const store = createRedisStore({ url: "redis://127.0.0.1:6379", keyPrefix });
    onStop(async () => {
      await store.close?.();
      await deleteRedisKeys(keyPrefix);
    });
    return store;
  }
  if (c.store === "postgres") {
    const { createPostgresStore } = await import("@portcullis/postgres");
    await dropPostgresSchema();
    const store = createPostgresStore({ url: POSTGRES_BENCH_URL, schema: postgresSchema });
    onStop(async () => {
      await store.close?.();
      await dropPostgresSchema();
    });
    return store;
  }
  return fail(`unknown store ${String(c.store)}`);
}

async function dropPostgresSchema(): Promise<void> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: POSTGRES_BENCH_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(postgresSchema)} CASCADE`);
  } finally {
    await client.end();
  }
}

/** Removes every key this run wrote (they also expire within REFRESH_TTL_SECONDS). */
async function deleteRedisKeys(prefix: string): Promise<void> {
  const { createClient } = await import("redis");
  const client = createClient({ url: "redis://127.0.0.1:6379" });
  await client.connect();
  try {
    let cursor = "0";
    for (let round = 0; round < 1_000_000; round++) {
      const [next, keys] = (await client.sendCommand(["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "10000"])) as [string, string[]];
      if (keys.length > 0) await client.sendCommand(["UNLINK", ...keys]);
      cursor = next;
      if (cursor === "0") break;
    }
  } finally {
    await client.close();
  }
}

/** One real authorization code flow through `server.fetch`, signed in as alice by the app's own UI. */
async function signIn(): Promise<{ accessToken: string; refreshToken: string }> {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const query = new URLSearchParams({
    response_type: "code",
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    code_challenge: challenge,
    code_challenge_method: "S256",
    scope: SCOPES.join(" "),
  });
  const authorize = await server.fetch(new Request(`${origin}/authorize?${query}`));
  const requestId = new URL(authorize.headers.get("Location") ?? fail(`authorize answered ${authorize.status}`), origin).searchParams.get("request_id");
  if (!requestId) fail("authorize did not redirect to the interaction URL");
  const done = await server.completeAuthorization(requestId, { subject: "alice" });
  const code = new URL(done.headers.get("Location")!).searchParams.get("code") ?? fail("completeAuthorization gave no code");
  const tokens = await tokenRequest({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: CLIENT_ID, redirect_uri: REDIRECT_URI });
  return { accessToken: tokens.access_token, refreshToken: tokens.refresh_token! };
}

async function refreshGrant(refreshToken: string) {
  return tokenRequest({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: CLIENT_ID });
}

async function tokenRequest(params: Record<string, string>): Promise<{ access_token: string; refresh_token?: string }> {
  const response = await server.fetch(
    new Request(`${origin}/token`, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(params) }),
  );
  if (response.status !== 200) fail(`token endpoint answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as { access_token: string; refresh_token?: string };
}

/**
 * Writes `grants` live grants with one refresh token each, plus extra refresh tokens on the same
 * grants until there are `tokens`; answers `tokens` refresh tokens nobody has used: those of
 * `given` first, then new ones.
 */
async function preload(grants: number, tokens: number, given: readonly string[] = []): Promise<string[]> {
  const started = performance.now();
  const now = Date.now();
  const ids: string[] = [];
  const spendable: string[] = [];
  const writer = await bulkWriter();
  const total = Math.max(grants, tokens);
  for (let i = 0; i < total; i += writer.batch) {
    const records: Array<[key: string, value: unknown]> = [];
    for (let j = i; j < Math.min(i + writer.batch, total); j++) {
      if (j < grants) {
        const id = randomBytes(16).toString("base64url");
        ids.push(id);
        records.push([`grant:${id}`, { id, clientId: CLIENT_ID, subject: `user-${j}`, scopes: SCOPES, resource, createdAt: now }]);
      }
      const grantId = ids[j % grants]!;
      const token = given[j] ?? randomBytes(32).toString("base64url");
      records.push([`refresh:${createHash("sha256").update(token).digest("base64url")}`, { grantId, clientId: CLIENT_ID, scopes: SCOPES }]);
      if (spendable.length < tokens) spendable.push(token);
    }
    await writer.write(records);
  }
  await writer.close();
  facts.liveGrants = (Number(facts.liveGrants) || 0) + grants;
  facts.preloadSeconds = round((Number(facts.preloadSeconds) || 0) + (performance.now() - started) / 1000);
  return spendable;
}

interface BulkWriter {
  /** Records per `write`. */
  batch: number;
  /** Writes records with the refresh token TTL, as `storage.set(key, value, { ttlSeconds })` would. */
  write(records: Array<[key: string, value: unknown]>): Promise<void>;
  close(): Promise<void>;
}

/**
 * How `preload` writes: through the store, except on SQLite, where writing a million grants (two
 * million rows) through the store's short transactions takes minutes. There a second connection
 * to the same file inserts the rows the store would, many per transaction, after checking its
 * row format against a record the store itself wrote.
 */
async function bulkWriter(): Promise<BulkWriter> {
  const ttl = { ttlSeconds: REFRESH_TTL_SECONDS };
  if (config.store === "postgres") return postgresBulkWriter();
  if (config.store !== "sqlite") {
    return {
      batch: config.store === "redis" ? 10_000 : 1000,
      write: async (records) => void (await Promise.all(records.map(([key, value]) => storage.set(key, value, ttl)))),
      close: async () => {},
    };
  }
  // The better-sqlite3 the store itself uses, resolved from @portcullis/sqlite.
  const Database = createRequire(import.meta.resolve("@portcullis/sqlite"))("better-sqlite3") as typeof BetterSqlite3;
  const db = new Database(sqlitePath!, { timeout: 5000 });
  db.pragma("synchronous = NORMAL");
  const insert = db.prepare<[string, string, number]>("INSERT INTO entries (key, value, expires_at) VALUES (?, ?, ?)");
  const row = (value: unknown): [string, number] => [JSON.stringify(value), Date.now() + REFRESH_TTL_SECONDS * 1000];

  // The row format check: a record written by the store reads back as this writer would write it.
  const probeKey = `bench-format-probe:${randomBytes(8).toString("base64url")}`;
  const probeValue = { id: "x", scopes: SCOPES, createdAt: Date.now() };
  const before = row(probeValue);
  await storage.set(probeKey, probeValue, ttl);
  const written = db.prepare<[string], { value: string; expires_at: number }>("SELECT value, expires_at FROM entries WHERE key = ?").get(probeKey);
  const after = row(probeValue);
  if (!written || written.value !== before[0] || !(written.expires_at >= before[1] && written.expires_at <= after[1])) {
    db.close();
    fail(`the SQLite store's row format changed (wrote ${JSON.stringify(written)}); update bulkWriter in bench/src/servers/portcullis.ts`);
  }
  await storage.delete(probeKey);

  const insertAll = db.transaction((records: Array<[string, unknown]>) => {
    for (const [key, value] of records) insert.run(key, ...row(value));
  });
  return {
    batch: 50_000,
    write: async (records) => insertAll(records),
    close: async () => {
      // Fold the WAL back into the file, so the store's reads do not walk a WAL of millions of rows.
      db.pragma("wal_checkpoint(TRUNCATE)");
      db.close();
    },
  };
}

/** The PostgreSQL bulk writer: multi-row inserts on a pool of its own, in the store's row format. */
async function postgresBulkWriter(): Promise<BulkWriter> {
  const { default: pg } = await import("pg");
  const pool = new pg.Pool({ connectionString: POSTGRES_BENCH_URL, max: 4 });
  const table = `${pg.escapeIdentifier(postgresSchema)}.entries`;
  const expiry = () => Date.now() + REFRESH_TTL_SECONDS * 1000;

  // The row format check: a record written by the store reads back as this writer would write it.
  const probeKey = `bench-format-probe:${randomBytes(8).toString("base64url")}`;
  const probeValue = { id: "x", scopes: SCOPES, createdAt: Date.now() };
  const before = expiry();
  await storage.set(probeKey, probeValue, { ttlSeconds: REFRESH_TTL_SECONDS });
  const after = expiry();
  const { rows } = await pool.query<{ value: string; expires_at: string }>(`SELECT value::text AS value, expires_at FROM ${table} WHERE key = $1`, [probeKey]);
  const written = rows[0];
  if (!written || written.value !== JSON.stringify(probeValue) || !(Number(written.expires_at) >= before && Number(written.expires_at) <= after)) {
    await pool.end();
    fail(`the PostgreSQL store's row format changed (wrote ${JSON.stringify(written)}); update postgresBulkWriter in bench/src/servers/portcullis.ts`);
  }
  await storage.delete(probeKey);

  const insert = `INSERT INTO ${table} (key, value, expires_at) SELECT * FROM unnest($1::text[], $2::json[], $3::bigint[])`;
  return {
    batch: 5_000,
    write: async (records) => {
      const at = expiry();
      await pool.query(insert, [records.map(([key]) => key), records.map(([, value]) => JSON.stringify(value)), records.map(() => at)]);
    },
    close: async () => {
      // Fresh statistics, so the store's first statements plan against the loaded table.
      await pool.query(`VACUUM ANALYZE ${table}`);
      await pool.end();
    },
  };
}

/** The token with one signature character changed: well-formed, but the signature fails. */
function breakSignature(token: string): string {
  const dot = token.lastIndexOf(".");
  const at = dot + 10;
  const replacement = token[at] === "A" ? "B" : "A";
  return token.slice(0, at) + replacement + token.slice(at + 1);
}

async function mapConcurrent<T, R>(items: T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
