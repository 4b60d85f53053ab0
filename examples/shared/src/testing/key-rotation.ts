import { jwtTokenVerifier } from "@portcullis/core/resource";
import { createRedisStore } from "@portcullis/redis";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, type RunningExample } from "./e2e.js";
import { authorize, callWhoami, registerClient, tokenRequest } from "./http-flow.js";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** Why the Redis part cannot run here, or undefined when a Redis server answers. */
async function redisSkipReason(): Promise<string | undefined> {
  const probe = createRedisStore({ url: REDIS_URL });
  try {
    await probe.get("ping");
    await probe.close?.();
    return undefined;
  } catch (error) {
    await probe.close?.().catch(() => {});
    const reason = `no Redis server at ${REDIS_URL} (${(error as Error).message})`;
    if (process.env.CI) throw new Error(`${reason}; CI must run the Redis tests`);
    console.warn(`[key rotation on two instances] skipped: ${reason}`);
    return reason;
  }
}

interface Jwks {
  keys: { kid: string; d?: string }[];
}
const kids = (jwks: Jwks) => jwks.keys.map((k) => k.kid).sort();
const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as { kid: string }).kid;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function jwksOf(base: string): Promise<Jwks> {
  const response = await fetch(`${base}/jwks.json`);
  expect(response.status).toBe(200);
  return (await response.json()) as Jwks;
}

/** Signs the demo user in without a browser and answers the token response. */
async function signIn(base: string) {
  const client = await registerClient(base);
  const { code, verifier } = await authorize(base, client);
  const tokens = await tokenRequest(base, { grant_type: "authorization_code", code, code_verifier: verifier, client_id: client.clientId });
  expect(tokens.status).toBe(200);
  return { client, tokens: tokens.body as { access_token: string; refresh_token: string } };
}

/** Refreshes until an access token is signed by another key than `kid`, for at most `ms`. */
async function refreshUntilRotated(base: string, clientId: string, refreshToken: string, kid: string, ms: number) {
  const deadline = Date.now() + ms;
  let current = refreshToken;
  for (;;) {
    const refreshed = await tokenRequest(base, { grant_type: "refresh_token", refresh_token: current, client_id: clientId });
    expect(refreshed.status).toBe(200);
    current = refreshed.body.refresh_token!;
    if (kidOf(refreshed.body.access_token!) !== kid) return { access: refreshed.body.access_token!, refresh: current };
    if (Date.now() > deadline) throw new Error(`the signing key did not rotate within ${ms} ms`);
    await sleep(200);
  }
}

/**
 * The example contract's signing-key rotation: with `SIGNING_KEY_ROTATION_SECONDS=2` the JWKS
 * changes, tokens are signed by the new key, and a token issued before the rotation keeps working
 * until it expires (`ACCESS_TOKEN_TTL_SECONDS`). With `twoInstances` (a Node example), two
 * instances on one Redis do the same together, serving the same JWKS and each other's tokens.
 */
export function describeKeyRotation(
  name: string,
  start: (env: Record<string, string>) => Promise<RunningExample>,
  options: { twoInstances?: boolean } = {},
): void {
  describe(`${name}: signing-key rotation (SIGNING_KEY_ROTATION_SECONDS, ACCESS_TOKEN_TTL_SECONDS)`, () => {
    const running: RunningExample[] = [];
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      await Promise.all(running.splice(0).map((example) => example.stop("SIGKILL")));
      for (const cleanup of cleanups.splice(0)) await cleanup();
    });
    const launch = async (env: Record<string, string>) => {
      const example = await start({ SIGNING_KEY_ROTATION_SECONDS: "2", ACCESS_TOKEN_TTL_SECONDS: "20", ...env });
      running.push(example);
      return example;
    };

    it("AS-JWT-1: rotates the key in the JWKS, and a token issued before the rotation still calls the MCP server after it", async () => {
      const example = await launch({});
      const before = await jwksOf(example.url);
      // The key that signs and the next one, published ahead of it.
      expect(before.keys).toHaveLength(2);
      for (const key of before.keys) expect(key).not.toHaveProperty("d");
      const { client, tokens } = await signIn(example.url);
      const oldKid = kidOf(tokens.access_token);
      expect(kids(before)).toContain(oldKid);

      const rotated = await refreshUntilRotated(example.url, client.clientId, tokens.refresh_token, oldKid, 5000);
      const after = await jwksOf(example.url);
      expect(kids(after)).not.toEqual(kids(before));
      expect(kids(after)).toContain(kidOf(rotated.access));
      // The old key stays published while its tokens live.
      expect(kids(after)).toContain(oldKid);
      expect((await callWhoami(example.url, tokens.access_token)).status).toBe(200);
      expect((await callWhoami(example.url, rotated.access)).status).toBe(200);
      // A separate resource server that reads /jwks.json accepts both too.
      const remote = jwtTokenVerifier({ issuer: example.url, jwks: new URL(`${example.url}/jwks.json`) });
      for (const token of [tokens.access_token, rotated.access]) {
        expect((await remote.verifyAccessToken(token, { resource: `${example.url}/mcp` })).clientId).toBe(client.clientId);
      }
    });

    it.skipIf(!options.twoInstances)("AS-JWT-1: two instances on one Redis serve the same JWKS and accept each other's tokens across rotations", async () => {
      const skip = await redisSkipReason();
      if (skip) return;
      const keyPrefix = `portcullis-keys-${Date.now()}-${Math.random().toString(36).slice(2)}:`;
      const store = `${REDIS_URL}?prefix=${keyPrefix}`;
      cleanups.push(async () => {
        const redis = createRedisStore({ url: REDIS_URL, keyPrefix });
        for (const entry of await redis.list("", { limit: 10_000 })) await redis.delete(entry.key);
        await redis.close?.();
      });
      // One issuer behind two ports, as behind a load balancer.
      const [portA, portB] = [await freePort(), await freePort()];
      const publicUrl = `http://localhost:${portA}`;
      await Promise.all([
        launch({ STORE: store, PORT: String(portA), PUBLIC_URL: publicUrl }),
        launch({ STORE: store, PORT: String(portB), PUBLIC_URL: publicUrl }),
      ]);
      const a = { url: publicUrl };
      const b = { url: `http://localhost:${portB}` };
      const { client, tokens } = await signIn(a.url);
      const oldKid = kidOf(tokens.access_token);
      expect((await callWhoami(b.url, tokens.access_token)).status).toBe(200);
      const rotated = await refreshUntilRotated(b.url, client.clientId, tokens.refresh_token, oldKid, 5000);
      // Both sides of the rotation, on both instances.
      for (const base of [a.url, b.url]) {
        expect((await callWhoami(base, tokens.access_token)).status).toBe(200);
        expect((await callWhoami(base, rotated.access)).status).toBe(200);
      }
      // The same JWKS on both, except within a second of a change.
      let same = false;
      for (let attempt = 0; attempt < 5 && !same; attempt++) {
        same = JSON.stringify(kids(await jwksOf(a.url))) === JSON.stringify(kids(await jwksOf(b.url)));
        if (!same) await sleep(300);
      }
      expect(same).toBe(true);
    });
  });
}
