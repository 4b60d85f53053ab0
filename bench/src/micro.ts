/**
 * In-process cost attribution for the two hot paths the HTTP scenarios measure: microseconds per
 * operation, one at a time, each in a bounded loop. Not part of `npm run bench`; used to explain
 * a target that fails (`tsx --conditions=portcullis:source src/micro.ts`).
 */
import { createHash, randomBytes } from "node:crypto";
import { SignJWT, generateKeyPair } from "jose";
import { createAuthorizationServer, createMemoryStore, createResourceGuard } from "@portcullis/core";

const origin = "http://127.0.0.1:8787";
const resource = `${origin}/mcp`;
const storage = createMemoryStore({ maxEntries: 1_000_000 });
const server = createAuthorizationServer({
  issuer: origin,
  resource,
  scopes: { "mcp:tools": "Use the tools" },
  storage,
  interactionUrl: "/login",
  clients: [{ client_id: "pub", redirect_uris: ["http://127.0.0.1:33418/callback"], grant_types: ["authorization_code", "refresh_token"] }],
  rateLimit: false,
});
const guard = createResourceGuard({ resource, authorizationServers: [origin], verifier: server, requiredScopes: ["mcp:tools"] });

// A grant and refresh tokens in the core's record format, as the HTTP scenarios pre-load them.
const grantId = "g1";
await storage.set(`grant:${grantId}`, { id: grantId, clientId: "pub", subject: "alice", scopes: ["mcp:tools"], resource, createdAt: Date.now() });
const refreshTokens: string[] = [];
for (let i = 0; i < 200_000; i++) {
  const t = randomBytes(32).toString("base64url");
  refreshTokens.push(t);
  await storage.set(`refresh:${createHash("sha256").update(t).digest("base64url")}`, { grantId, clientId: "pub", scopes: ["mcp:tools"] });
}
let next = 0;
const refreshRequest = () =>
  new Request(`${origin}/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: `grant_type=refresh_token&client_id=pub&refresh_token=${refreshTokens[next++]}`,
  });
const first = (await (await server.fetch(refreshRequest())).json()) as { access_token: string };
const token = first.access_token;
const rawHeaders = ["Host", "127.0.0.1:8787", "Authorization", `Bearer ${token}`, "Content-Type", "application/json", "Content-Length", "46"];
const guardedRequest = new Request(resource, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" } });
const { privateKey } = await generateKeyPair("ES256");
const encoder = new TextEncoder();

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
process.exit(0);
