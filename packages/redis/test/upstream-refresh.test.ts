import { randomBytes, randomUUID } from "node:crypto";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuthorizationServer, type AuthorizationServer, type UpstreamAccess } from "@portcullis/core";
import { Agent, authorizationRequest, formOf, formPost, signInAtIdp } from "../../core/test/upstream/agent.js";
import { startTestIdp, type TestIdp } from "../../core/test/upstream/idp.js";
import { createRedisStore } from "../src/index.js";
import { REDIS_URL, redisSkipReason } from "./availability.js";

const skipReason = await redisSkipReason("redis upstream refresh");
const ISSUER = "https://as.test";
const CALLBACK = `${ISSUER}/upstream/callback`;
const REDIRECT = "http://127.0.0.1:7777/cb";
const SECRET = "upstream-client-secret-0123456789";
const KEY = randomBytes(32).toString("base64url");
const prefix = `portcullis-upstream:${randomUUID()}:`;

let idp: TestIdp;
const stores: ReturnType<typeof createRedisStore>[] = [];
beforeAll(async () => {
  if (skipReason) return;
  idp = await startTestIdp({ clients: [{ client_id: "portcullis", client_secret: SECRET, redirect_uris: [CALLBACK] }] });
});
afterAll(async () => {
  if (skipReason) return;
  await Promise.all(stores.map((s) => s.close?.()));
  await idp?.stop();
  const raw = createClient({ url: REDIS_URL });
  raw.on("error", () => {});
  await raw.connect();
  for await (const keys of raw.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length > 0) await raw.unlink(keys);
  await raw.close();
});

/** One instance: its own Redis connection, the shared key prefix, a clock the test moves. */
function instance(now: () => number): AuthorizationServer {
  const storage = createRedisStore({ url: REDIS_URL, keyPrefix: prefix });
  stores.push(storage);
  return createAuthorizationServer({
    issuer: ISSUER,
    resource: `${ISSUER}/mcp`,
    scopes: { "mcp:tools": "Use the tools" },
    defaultScopes: ["mcp:tools"],
    storage,
    clients: [{ client_id: "client-a", redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"] }],
    upstream: { issuer: idp.issuer, clientId: "portcullis", clientSecret: SECRET, tokenEncryptionKeys: KEY },
    now,
  });
}

describe.skipIf(Boolean(skipReason))("Upstream refresh on Redis", () => {
  it("PX-8: two instances refreshing the same expired upstream token at once make one upstream refresh", async () => {
    let now = Date.now();
    const [a, b] = [instance(() => now), instance(() => now)];
    const agent = new Agent(a);
    const { url, verifier } = authorizationRequest(ISSUER, { client_id: "client-a", redirect_uri: REDIRECT, state: "s" });
    const { action, fields } = formOf(await (await agent.request(url.href)).text(), ISSUER);
    const allowed = await agent.request(action, formPost({ ...fields, decision: "allow" }));
    const callback = await signInAtIdp(agent, allowed.headers.get("Location")!, "alice", CALLBACK);
    const code = new URL((await agent.request(callback.href)).headers.get("Location")!).searchParams.get("code")!;
    const token = await a.fetch(
      new Request(`${ISSUER}/token`, formPost({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: "client-a" })),
    );
    const { access_token } = (await token.json()) as { access_token: string };
    const upstreamOf = async (server: AuthorizationServer) =>
      (await server.verifyAccessToken(access_token, { resource: `${ISSUER}/mcp` })).extra!.upstream as UpstreamAccess;
    const [ua, ub] = await Promise.all([upstreamOf(a), upstreamOf(b)]);
    const before = await ua.getAccessToken();

    const refreshes = idp.counts.refresh_token;
    now += 61_000;
    const got = await Promise.all([...Array(5)].flatMap(() => [ua.getAccessToken(), ub.getAccessToken()]));
    expect(idp.counts.refresh_token - refreshes).toBe(1);
    expect(new Set(got)).toEqual(new Set([got[0]]));
    expect(got[0]).not.toBe(before);
  });
});
