import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "redis";
import { afterEach, describe, expect, it } from "vitest";
import { authorize, callWhoami, freePort, registerClient, startExample, tokenRequest, type RunningExample } from "@portcullis/example-shared/testing";

const dir = fileURLToPath(new URL("..", import.meta.url));
const running: RunningExample[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((example) => example.stop("SIGKILL")));
});
const start = async (env: Record<string, string>) => {
  const example = await startExample(dir, env);
  running.push(example);
  return example;
};

describe("Restart on SQLite (issue 5)", () => {
  it("keeps clients, grants, refresh tokens and signing keys across a SIGKILL", async () => {
    const store = `sqlite:${join(mkdtempSync(join(tmpdir(), "portcullis-restart-")), "store.db")}`;
    const port = String(await freePort());
    const first = await start({ STORE: store, PORT: port });
    const client = await registerClient(first.url);
    const { code, verifier } = await authorize(first.url, client);
    const tokens = await tokenRequest(first.url, { grant_type: "authorization_code", code, code_verifier: verifier, client_id: client.clientId });
    expect(tokens.status).toBe(200);
    await first.stop("SIGKILL");

    const second = await start({ STORE: store, PORT: port });
    // The access token issued before the crash still verifies: same keys, same grant.
    const call = await callWhoami(second.url, tokens.body.access_token!);
    expect(call.status).toBe(200);
    expect(call.body?.result?.structuredContent).toMatchObject({ clientId: client.clientId, username: "e2e-user" });
    const refreshed = await tokenRequest(second.url, { grant_type: "refresh_token", refresh_token: tokens.body.refresh_token!, client_id: client.clientId });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(tokens.body.refresh_token);
  });
});

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const redisReason = await (async () => {
  const probe = createClient({ url: REDIS_URL, socket: { connectTimeout: 1000, reconnectStrategy: false } });
  probe.on("error", () => {});
  try {
    await probe.connect();
    await probe.ping();
    await probe.quit();
    return undefined;
  } catch (error) {
    return `no Redis server at ${REDIS_URL} (${(error as Error).message})`;
  }
})();
if (redisReason) {
  if (process.env.CI) throw new Error(`${redisReason}; CI must run the Redis tests`);
  console.warn(`[many instances] skipped: ${redisReason}`);
}

describe.skipIf(Boolean(redisReason))("Many instances on one Redis behind one PUBLIC_URL (issue 5)", () => {
  it("redeems a code exactly once across instances, shares tokens, and rotates and revokes across both", async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const publicUrl = `http://localhost:${portA}`;
    const store = `${REDIS_URL}?prefix=portcullis-test-${Date.now()}-${Math.random().toString(36).slice(2)}:`;
    const [a, b] = await Promise.all([
      start({ STORE: store, PORT: String(portA), PUBLIC_URL: publicUrl }),
      start({ STORE: store, PORT: String(portB), PUBLIC_URL: publicUrl }),
    ]);
    const urlA = `http://localhost:${portA}`;
    const urlB = `http://localhost:${portB}`;
    expect(a.url).toBe(publicUrl);
    expect(b.url).toBe(publicUrl);

    const client = await registerClient(urlA);
    for (let round = 0; round < 5; round++) {
      const { code, verifier } = await authorize(urlA, client);
      const redeem = { grant_type: "authorization_code", code, code_verifier: verifier, client_id: client.clientId };
      const results = await Promise.all([tokenRequest(urlA, redeem), tokenRequest(urlB, redeem)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
      expect(results.find((r) => r.status === 400)!.body.error).toBe("invalid_grant");
    }

    // Issued by A, accepted by B.
    const { code, verifier } = await authorize(urlA, client);
    const tokens = (await tokenRequest(urlA, { grant_type: "authorization_code", code, code_verifier: verifier, client_id: client.clientId })).body;
    expect((await callWhoami(urlB, tokens.access_token!)).status).toBe(200);

    // Rotated at A; a retry at B within the reuse interval gets the same refresh token, with a new access token (issue 6).
    const rotated = await tokenRequest(urlA, { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, client_id: client.clientId });
    expect(rotated.status).toBe(200);
    const retry = await tokenRequest(urlB, { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, client_id: client.clientId });
    expect(retry.status).toBe(200);
    expect(retry.body.refresh_token).toBe(rotated.body.refresh_token);
    expect((await callWhoami(urlB, retry.body.access_token!)).status).toBe(200);
    // Once the successor is used at B, the old token replayed at B is refused and revokes the grant everywhere.
    const next = await tokenRequest(urlB, { grant_type: "refresh_token", refresh_token: rotated.body.refresh_token!, client_id: client.clientId });
    expect(next.status).toBe(200);
    const replay = await tokenRequest(urlB, { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, client_id: client.clientId });
    expect(replay.body.error).toBe("invalid_grant");
    const afterReplay = await tokenRequest(urlA, { grant_type: "refresh_token", refresh_token: next.body.refresh_token!, client_id: client.clientId });
    expect(afterReplay.body.error).toBe("invalid_grant");
    expect((await callWhoami(urlA, next.body.access_token!)).status).toBe(401);

    // Revocation at B takes effect at A at once (Redis pub/sub), not after A's grant cache (grantCacheSeconds, 2 s).
    const fresh = await authorize(urlA, client);
    const t2 = (await tokenRequest(urlA, { grant_type: "authorization_code", code: fresh.code, code_verifier: fresh.verifier, client_id: client.clientId }))
      .body;
    expect((await callWhoami(urlA, t2.access_token!)).status).toBe(200);
    const revoked = await fetch(`${urlB}/revoke`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: t2.refresh_token!, client_id: client.clientId }),
    });
    expect(revoked.status).toBe(200);
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 1_500) {
      status = (await callWhoami(urlA, t2.access_token!)).status;
      if (status === 200) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe(401);
  });
});
