/**
 * A Portcullis server under load: the authorization server and a guarded MCP-like endpoint
 * (POST /mcp -> {"ok":true}) mounted through one adapter, on one store.
 *
 * argv[2]: {"adapter":"hono"|"express"|"node", "store":"memory"|"sqlite"|"redis",
 *           "maxEntries"?: N, "freshTokens"?: N, "refreshTokens"?: N, "liveGrants"?: N}
 *
 * Fixtures, prepared before the server reports ready:
 * - one access token from a real authorization flow (authorize -> completeAuthorization -> token);
 * - `liveGrants` grants, each with a live refresh token, written straight through the store in
 *   the core's record format (`grant:<id>`, `refresh:<sha256>`): a real flow per grant would take
 *   hours for a million. `refreshTokens` of those (more are attached to the same grants when
 *   there are fewer grants than tokens) go to the load generator, one per request: rotation
 *   makes each single-use. One extra is spent in-process first, proving the records are valid;
 * - `freshTokens` access tokens, each issued by a real refresh grant through `server.fetch`.
 */
import { createHash, randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RequestListener } from "node:http";
import { getRequestListener } from "@hono/node-server";
import express from "express";
import { Hono } from "hono";
import { createAuthorizationServer, createMemoryStore, createResourceGuard, type Storage } from "@portcullis/core";
import { bearerAuth, oauthRoutes } from "@portcullis/hono";
import { argConfig, fail, listenLoopback, onStop, reportReady, writeLines, type ReadyInfo } from "./common.js";

interface Config {
  adapter: "hono" | "express" | "node";
  store: "memory" | "sqlite" | "redis";
  maxEntries?: number;
  freshTokens?: number;
  refreshTokens?: number;
  liveGrants?: number;
}

const CLIENT_ID = "pub";
const REDIRECT_URI = "http://127.0.0.1:33418/callback";
const SCOPES = ["mcp:tools"];
const REFRESH_TTL_SECONDS = 3600;

const config = argConfig<Config>();
const { port, origin, attach } = await listenLoopback();
const resource = `${origin}/mcp`;
const facts: Record<string, string | number> = {};
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
  const spendable = await preload(config.liveGrants ?? config.refreshTokens, config.refreshTokens + 1);
  await refreshGrant(spendable.pop()!);
  info.files!.refreshTokens = await writeLines("refresh", spendable);
}
attach(listener);
reportReady(info);

async function openStore(c: Config): Promise<Storage> {
  if (c.store === "memory") return createMemoryStore(c.maxEntries ? { maxEntries: c.maxEntries } : {});
  if (c.store === "sqlite") {
    const { createSqliteStore } = await import("@portcullis/sqlite");
    const path = join(tmpdir(), `portcullis-bench-${process.pid}.db`);
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
  return fail(`unknown store ${String(c.store)}`);
}

/** Removes every key this run wrote (they also expire within REFRESH_TTL_SECONDS). */
async function deleteRedisKeys(prefix: string): Promise<void> {
  const { createClient } = await import("redis");
  const client = createClient({ url: "redis://127.0.0.1:6379" });
  await client.connect();
  try {
    let cursor = "0";
    for (let round = 0; round < 1_000_000; round++) {
      const [next, keys] = (await client.sendCommand(["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "1000"])) as [string, string[]];
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
 * grants until there are `tokens`; answers `tokens` refresh tokens nobody has used.
 */
async function preload(grants: number, tokens: number): Promise<string[]> {
  const started = performance.now();
  const now = Date.now();
  const ids: string[] = [];
  const spendable: string[] = [];
  const ttl = { ttlSeconds: REFRESH_TTL_SECONDS };
  const BATCH = 1000;
  for (let i = 0; i < Math.max(grants, tokens); i += BATCH) {
    const writes: Promise<void>[] = [];
    for (let j = i; j < Math.min(i + BATCH, Math.max(grants, tokens)); j++) {
      if (j < grants) {
        const id = randomBytes(16).toString("base64url");
        ids.push(id);
        writes.push(storage.set(`grant:${id}`, { id, clientId: CLIENT_ID, subject: `user-${j}`, scopes: SCOPES, resource, createdAt: now }, ttl));
      }
      const grantId = ids[j % grants]!;
      const token = randomBytes(32).toString("base64url");
      writes.push(storage.set(`refresh:${createHash("sha256").update(token).digest("base64url")}`, { grantId, clientId: CLIENT_ID, scopes: SCOPES }, ttl));
      if (spendable.length < tokens) spendable.push(token);
    }
    await Promise.all(writes);
  }
  facts.liveGrants = (Number(facts.liveGrants) || 0) + grants;
  facts.preloadSeconds = round((Number(facts.preloadSeconds) || 0) + (performance.now() - started) / 1000);
  return spendable;
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
