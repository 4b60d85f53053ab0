/**
 * In-process cost attribution for the two hot paths the HTTP scenarios measure: microseconds per
 * operation, one at a time, each in a bounded loop. Not part of `npm run bench`; used to explain
 * a target that fails (`tsx --conditions=portcullis:source src/micro.ts`; `--guard` for the
 * guard's cached and 401 paths alone, A/B; `--refresh[=file.cpuprofile]` or `--register[=...]` for 5 s of
 * refresh grants or registrations alone, profiled into the file, with the process's CPU per
 * request and its main thread's; `--no-retry` refreshes without the retry record; `--store-ops`
 * for 5 s of a refresh's store calls alone, without HTTP, signing or sealing). The store is memory,
 * or `--sqlite`, `--redis` or `--postgres`.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT, generateKeyPair } from "jose";
import { createAuthorizationServer, createMemoryStore, createResourceGuard } from "@portcullis/core";
import { readCpuMs } from "./harness.js";
import { REGISTRATION_BODY } from "./servers/common.js";

const origin = "http://127.0.0.1:8787";
const resource = `${origin}/mcp`;
// `--redis`: the Redis store on 127.0.0.1:6379 (keys under a prefix of this process, expiring).
const onRedis = process.argv.includes("--redis");
// `--postgres`: PostgreSQL at POSTGRES_BENCH_URL (default postgres://postgres@127.0.0.1:5432/test),
// in a schema of this process, dropped at the end.
const onPostgres = process.argv.includes("--postgres");
// `--sqlite`: a SQLite file in a directory of this process under the system's temporary folder, removed at the end.
const sqliteDir = process.argv.includes("--sqlite") ? mkdtempSync(join(tmpdir(), "portcullis-micro-")) : undefined;
const postgresUrl = process.env.POSTGRES_BENCH_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const postgresSchema = `portcullis_micro_${process.pid}`;
const storage = onRedis
  ? (await import("@portcullis/redis")).createRedisStore({ url: "redis://127.0.0.1:6379", keyPrefix: `portcullis-micro-${process.pid}:` })
  : onPostgres
    ? (await import("@portcullis/postgres")).createPostgresStore({ url: postgresUrl, schema: postgresSchema })
    : sqliteDir
      ? (await import("@portcullis/sqlite")).createSqliteStore({ path: join(sqliteDir, "store.db") })
      : createMemoryStore({ maxEntries: 1_000_000 });
/** Ends the run, dropping the PostgreSQL schema of this process. */
async function finish(): Promise<never> {
  await storage.close?.();
  if (sqliteDir) rmSync(sqliteDir, { recursive: true, force: true });
  if (onPostgres) {
    const pg = (await import("pg")).default;
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${postgresSchema} CASCADE`);
    await client.end();
  }
  process.exit(0);
}
const server = createAuthorizationServer({
  issuer: origin,
  resource,
  scopes: { "mcp:tools": "Use the tools" },
  storage,
  interactionUrl: "/login",
  clients: [{ client_id: "pub", redirect_uris: ["http://127.0.0.1:33418/callback"], grant_types: ["authorization_code", "refresh_token"] }],
  rateLimit: false,
  // `--no-retry`: no reuse interval, so no retry record is sealed and written (what it costs).
  ...(process.argv.includes("--no-retry") ? { refreshTokenReuseIntervalSeconds: 0 } : {}),
  // `--eddsa`: Ed25519 signing keys instead of the default ES256.
  signingAlgorithm: process.argv.includes("--eddsa") ? "EdDSA" : "ES256",
});
const guard = createResourceGuard({ resource, authorizationServers: [origin], verifier: server, requiredScopes: ["mcp:tools"] });

// A grant and refresh tokens in the core's record format, as the HTTP scenarios pre-load them.
const grantId = "g1";
await storage.set(
  `grant:${grantId}`,
  { id: grantId, clientId: "pub", subject: "alice", scopes: ["mcp:tools"], resource, createdAt: Date.now() },
  { ttlSeconds: 900 },
);
/** A refresh token's key in the store: its SHA-256, base64url, as the core keeps it. */
const hashOf = (token: string) => createHash("sha256").update(token).digest("base64url");
const refreshTokens: string[] = [];
for (let batch = 0; batch < (onRedis || onPostgres ? 30 : 200); batch++) {
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 1000; i++) {
    const t = randomBytes(32).toString("base64url");
    refreshTokens.push(t);
    writes.push(storage.set(`refresh:${hashOf(t)}`, { grantId, clientId: "pub", scopes: ["mcp:tools"] }, { ttlSeconds: 900 }));
  }
  await Promise.all(writes);
}
let next = 0;
const FORM = { "Content-Type": "application/x-www-form-urlencoded" };
const refreshForm = () => `grant_type=refresh_token&client_id=pub&refresh_token=${refreshTokens[next++]}`;
const refreshRequest = () => new Request(`${origin}/token`, { method: "POST", headers: FORM, body: refreshForm() });
const first = (await (await server.fetch(refreshRequest())).json()) as { access_token: string };
const token = first.access_token;
const rawHeaders = ["Host", "127.0.0.1:8787", "Authorization", `Bearer ${token}`, "Content-Type", "application/json", "Content-Length", "46"];
const guardedRequest = new Request(resource, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" } });
const { privateKey } = await generateKeyPair("ES256");
const encoder = new TextEncoder();

/**
 * Runs `step` from `inFlight` callers at once for 5 s, or until it answers false, then prints
 * `label` with the time and the process's CPU per step: over every thread (the signing pool and
 * the garbage collector's helpers too) and the main thread's own.
 */
async function underLoad(label: string, unit: string, inFlight: number, step: () => Promise<boolean>): Promise<void> {
  const mainCpuMs = () => readCpuMs(process.pid, process.pid) ?? Number.NaN;
  const cpuBefore = process.cpuUsage();
  const mainBefore = mainCpuMs();
  const started = performance.now();
  let n = 0;
  const worker = async () => {
    while (performance.now() - started < 5000 && (await step())) n++;
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const mainUs = ((mainCpuMs() - mainBefore) * 1000) / n;
  console.log(
    `${((elapsed * 1000) / n).toFixed(2).padStart(9)} µs  ${label}, ${inFlight} in flight (${Math.round(n / (elapsed / 1000))}/s); CPU ${((cpu.user + cpu.system) / n).toFixed(0)} µs/${unit}, main thread ${mainUs.toFixed(0)}`,
  );
}

async function us(name: string, op: () => unknown, ms = 1500): Promise<void> {
  for (let i = 0; i < 200; i++) await op(); // warm-up
  const started = performance.now();
  let n = 0;
  while (performance.now() - started < ms) {
    await op();
    n++;
  }
  console.log(`${(((performance.now() - started) * 1000) / n).toFixed(2).padStart(9)} µs  ${name}`);
}

if (process.argv.includes("--guard")) {
  // The guard's two paths, A/B in one process, interleaved so a drifting host moves both sides:
  // a verifier that answers a reused token without I/O (the server) against one that only has the
  // asynchronous check; a 401 written from its plain form against one built as a Fetch Response.
  const asyncOnly = createResourceGuard({
    resource,
    authorizationServers: [origin],
    verifier: { issuer: origin, verifyAccessToken: (t, o) => server.verifyAccessToken(t, o), checkAccessToken: (t, o) => server.checkAccessToken(t, o) },
    requiredScopes: ["mcp:tools"],
  });
  const bare = new Request(resource, { method: "POST" });
  for (let round = 1; round <= 3; round++) {
    console.log(`round ${round}`);
    await us("guard.protect, reused token, cached check (no I/O)", () => guard.protect(guardedRequest));
    await us("guard.protect, reused token, asynchronous check only", () => asyncOnly.protect(guardedRequest));
    await us("guard.protect, no token, plain 401", async () => {
      const r = await guard.protect(bare);
      if (r.ok || !r.plain) throw new Error("expected a plain refusal");
      return r.plain.body;
    });
    await us("guard.protect, no token, 401 as a Fetch Response read whole", async () => {
      const r = await guard.protect(bare);
      if (r.ok) throw new Error("expected a refusal");
      for (const _ of r.response.headers);
      return r.response.text();
    });
  }
  await finish();
}

if (process.argv.includes("--store-ops")) {
  // What the refresh grant asks of the store, alone: the token's record and the grant read, then
  // the token spent with its successor, spent and retry records written in one step, as the
  // server's records look; 50 in flight for 5 s, with the process's CPU per refresh.
  // Until the pre-loaded tokens run out, on a store that pre-loads fewer (Redis, PostgreSQL).
  await underLoad("a refresh's store calls (2 reads, consumeAndSet of 3 writes)", "refresh", 50, async () => {
    if (next >= refreshTokens.length) return false;
    const hash = hashOf(refreshTokens[next++]!);
    const record = await storage.get<{ grantId: string; clientId: string; scopes: string[] }>(`refresh:${hash}`);
    if (!record || !(await storage.get(`grant:${record.grantId}`))) throw new Error("a refresh record or its grant is missing");
    const successor = randomBytes(32).toString("base64url");
    const written = await storage.consumeAndSet!(`refresh:${hash}`, [
      { key: `refresh:${hashOf(successor)}`, value: record, options: { ttlSeconds: 900 } },
      { key: `refresh-spent:${hash}`, value: { ...record, spentAt: Date.now(), asked: {} }, options: { ttlSeconds: 900 } },
      { key: `refresh-replay:${hash}`, value: { successor: randomBytes(60).toString("base64url") }, options: { ttlSeconds: 30 } },
    ]);
    if (written === undefined) throw new Error("the refresh record was spent twice");
    return true;
  });
  await finish();
}

const loadMode = process.argv.find((a) => /^--(refresh|register)(=|$)/.test(a));
if (loadMode) {
  // The refresh grant (or registration) alone, 50 in flight for 5 s, profiled (the load only, not
  // the set-up) into the file after `=`, when given: read it with src/profile-summary.ts.
  const registering = loadMode.startsWith("--register");
  // `--inflight=N`: requests in flight at once (default 50); 1 shows a request's own latency.
  const inFlight = Number(process.argv.find((a) => a.startsWith("--inflight="))?.slice("--inflight=".length) ?? 50);
  const profileTo = loadMode.includes("=") ? loadMode.slice(loadMode.indexOf("=") + 1) : undefined;
  const registrationBody = encoder.encode(REGISTRATION_BODY);
  // As the Node-based adapters hand a request over: the body already read, the Request bodiless.
  const handOver = (path: string, headers: Record<string, string>, body: Uint8Array) =>
    server.handle(new Request(`${origin}${path}`, { method: "POST", headers }), { body });
  const { Session } = await import("node:inspector/promises");
  const session = new Session();
  if (profileTo) {
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
  }
  await underLoad(`server.handle(${registering ? "registration" : "refresh grant"}, body read)`, "request", inFlight, async () => {
    const r = (await (registering
      ? handOver("/register", { "Content-Type": "application/json" }, registrationBody)
      : handOver("/token", FORM, encoder.encode(refreshForm()))))!;
    if (r.status !== (registering ? 201 : 200)) throw new Error(`answered ${r.status}`);
    await r.arrayBuffer();
    return true;
  });
  if (profileTo) {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(profileTo, JSON.stringify(profile));
  }
  await finish();
}

console.log("Guarded request, reused token:");
await us("new URL(request.url) (oauthRoutes parses it twice: server.handle, guard.handle)", () => new URL(resource));
await us("new Headers(...) from the raw headers (@hono/node-server builds them on first .headers access)", () => {
  const h = new Headers();
  for (let i = 0; i < rawHeaders.length; i += 2) h.append(rawHeaders[i]!, rawHeaders[i + 1]!);
  return h.get("authorization");
});
await us("storage.get(grant) on the memory store (JSON.parse of a copy)", () => storage.get(`grant:${grantId}`));
await us("server.verifyAccessToken(token), cache hit (includes the grant lookup)", () => server.verifyAccessToken(token, { resource }));
await us("guard.authenticate(request), cache hit", () => guard.authenticate(guardedRequest));
await us("guard.handle + server.handle (the oauthRoutes pass-through)", async () => {
  await guard.handle(guardedRequest);
  await server.handle(guardedRequest);
});

console.log("\nRefresh grant:");
await us("crypto.subtle.digest SHA-256 of a refresh token (async, libuv thread pool)", () =>
  crypto.subtle.digest("SHA-256", encoder.encode(refreshTokens[0]!)),
);
await us("node:crypto createHash SHA-256 of the same (synchronous)", () => createHash("sha256").update(refreshTokens[0]!).digest("base64url"));
await us("jose SignJWT ES256 (RFC 9068 claims)", () =>
  new SignJWT({ client_id: "pub", gid: grantId, scope: "mcp:tools" })
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "k" })
    .setIssuer(origin)
    .setSubject("alice")
    .setAudience(resource)
    .setIssuedAt()
    .setExpirationTime("1h")
    .setJti("j")
    .sign(privateKey),
);
await us("new Request(form body) + .text() (how a handler reads a body)", () => refreshRequest().text());
await us("server.fetch(refresh grant), one at a time, in-process (no HTTP)", async () => {
  const r = await server.fetch(refreshRequest());
  if (r.status !== 200) throw new Error(`refresh answered ${r.status}`);
  await r.arrayBuffer();
});
const concurrent = async () => {
  const started = performance.now();
  let n = 0;
  const worker = async () => {
    while (performance.now() - started < 1500) {
      await (await server.fetch(refreshRequest())).arrayBuffer();
      n++;
    }
  };
  await Promise.all(Array.from({ length: 50 }, worker));
  console.log(
    `${(((performance.now() - started) * 1000) / n).toFixed(2).padStart(9)} µs  server.fetch(refresh grant), 50 in flight, in-process (${Math.round(n / ((performance.now() - started) / 1000))}/s)`,
  );
};
await concurrent();
await finish();
