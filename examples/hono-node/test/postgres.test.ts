import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { authorize, callWhoami, freePort, registerClient, startExample, tokenRequest, type RunningExample } from "@portcullis/example-shared/testing";

const dir = fileURLToPath(new URL("..", import.meta.url));
const POSTGRES_URL = process.env.POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2, connectionTimeoutMillis: 2_000 });
admin.on("error", () => {});
const postgresReason = await admin.query("SELECT 1").then(
  () => undefined,
  (error: Error) => `no PostgreSQL server at ${POSTGRES_URL} (${error.message || error.name})`,
);
if (postgresReason) {
  if (process.env.CI) throw new Error(`${postgresReason}; CI must run the PostgreSQL tests`);
  console.warn(`[postgres examples] skipped: ${postgresReason}`);
}

// Each test gets a schema of its own, all dropped at the end.
const schemas: string[] = [];
const freshStore = () => {
  const name = `pt_example_${process.pid}_${Date.now().toString(36)}_${schemas.length}`;
  schemas.push(name);
  const url = new URL(POSTGRES_URL);
  url.searchParams.set("schema", name);
  return { schema: name, store: url.href };
};
afterAll(async () => {
  if (!postgresReason) for (const name of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(name)} CASCADE`);
  await admin.end();
});

const running: RunningExample[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((example) => example.stop("SIGKILL")));
});
const start = async (env: Record<string, string>) => {
  const example = await startExample(dir, env);
  running.push(example);
  return example;
};

describe.skipIf(Boolean(postgresReason))("The example on PostgreSQL", () => {
  it("keeps clients, grants, spent codes, rotated refresh tokens and signing keys across a SIGKILL", async () => {
    const { store } = freshStore();
    const port = String(await freePort());
    const first = await start({ STORE: store, PORT: port });
    const client = await registerClient(first.url);
    const { code, verifier } = await authorize(first.url, client);
    const redeem = { grant_type: "authorization_code", code, code_verifier: verifier, client_id: client.clientId };
    const tokens = await tokenRequest(first.url, redeem);
    expect(tokens.status).toBe(200);
    const rotated = await tokenRequest(first.url, { grant_type: "refresh_token", refresh_token: tokens.body.refresh_token!, client_id: client.clientId });
    expect(rotated.status).toBe(200);
    // Killed right after the last answer: whatever was answered had been committed.
    await first.stop("SIGKILL");

    const second = await start({ STORE: store, PORT: port });
    // Same keys and grant: the tokens issued before the crash still verify.
    const call = await callWhoami(second.url, rotated.body.access_token!);
    expect(call.status).toBe(200);
    expect(call.body?.result?.structuredContent).toMatchObject({ clientId: client.clientId, username: "e2e-user" });
    // The rotated refresh token is the live one, the first one stays spent.
    const next = await tokenRequest(second.url, { grant_type: "refresh_token", refresh_token: rotated.body.refresh_token!, client_id: client.clientId });
    expect(next.status).toBe(200);
    // The registered client is still known.
    expect((await authorize(second.url, client)).code).toMatch(/.+/);
    // The spent code stays spent: replayed, it is refused and revokes its grant (RFC 6749 §4.1.2).
    expect((await tokenRequest(second.url, redeem)).body.error).toBe("invalid_grant");
    expect((await callWhoami(second.url, next.body.access_token!)).status).toBe(401);
  });

  it("acts as one server as two instances behind one PUBLIC_URL: one winner per code, one successor per refresh, revocation at once", async () => {
    const { store } = freshStore();
    const [portA, portB] = [await freePort(), await freePort()];
    const publicUrl = `http://localhost:${portA}`;
    await Promise.all([
      start({ STORE: store, PORT: String(portA), PUBLIC_URL: publicUrl }),
      start({ STORE: store, PORT: String(portB), PUBLIC_URL: publicUrl }),
    ]);
    const urlA = `http://localhost:${portA}`;
    const urlB = `http://localhost:${portB}`;
    const client = await registerClient(urlA);

    // A code redeemed at both at once: exactly one winner.
    for (let round = 0; round < 5; round++) {
      const { code, verifier } = await authorize(urlA, client);
      const redeem = { grant_type: "authorization_code", code, code_verifier: verifier, client_id: client.clientId };
      const results = await Promise.all([tokenRequest(urlA, redeem), tokenRequest(urlB, redeem)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
      expect(results.find((r) => r.status === 400)!.body.error).toBe("invalid_grant");
    }

    // Issued by B, accepted by A (the sign-in page is served at the public URL, A).
    const { code, verifier } = await authorize(urlA, client);
    const tokens = (await tokenRequest(urlB, { grant_type: "authorization_code", code, code_verifier: verifier, client_id: client.clientId })).body;
    expect((await callWhoami(urlA, tokens.access_token!)).status).toBe(200);

    // 20 parallel refreshes of one token across both instances: one successor.
    const refresh = { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, client_id: client.clientId };
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => tokenRequest(i % 2 ? urlA : urlB, refresh)));
    const successors = new Set(results.filter((r) => r.status === 200).map((r) => r.body.refresh_token));
    expect(successors.size).toBe(1);
    for (const refused of results.filter((r) => r.status !== 200)) expect(refused.body.error).toBe("invalid_grant");
    const [successor] = [...successors];
    expect(successor).not.toBe(tokens.refresh_token);
    const next = await tokenRequest(urlA, { grant_type: "refresh_token", refresh_token: successor!, client_id: client.clientId });
    expect(next.status).toBe(200);

    // Revoked at B after A has seen the grant live: A refuses at once, not after its 2 s grant cache.
    expect((await callWhoami(urlA, next.body.access_token!)).status).toBe(200);
    const revoked = await fetch(`${urlB}/revoke`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: next.body.refresh_token!, client_id: client.clientId }),
    });
    expect(revoked.status).toBe(200);
    const revokedAt = Date.now();
    await expect.poll(async () => (await callWhoami(urlA, next.body.access_token!)).status, { interval: 20, timeout: 1_500 }).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThan(1_500);
  });

  it("stores no code, refresh token or client secret in plaintext", async () => {
    const { schema, store } = freshStore();
    const example = await start({ STORE: store });
    const registered = await fetch(`${example.url}/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        redirect_uris: ["http://127.0.0.1:1/callback"],
        token_endpoint_auth_method: "client_secret_post",
        grant_types: ["authorization_code", "refresh_token"],
        client_name: "confidential",
      }),
    });
    expect(registered.status).toBe(201);
    const body = (await registered.json()) as { client_id: string; client_secret: string; registration_access_token?: string };
    const client = { clientId: body.client_id, redirectUri: "http://127.0.0.1:1/callback" };
    const secrets = [body.client_secret, ...(body.registration_access_token ? [body.registration_access_token] : [])];

    const { code, verifier } = await authorize(example.url, client);
    // A second code left unredeemed, so a live one is in the table too.
    const pending = await authorize(example.url, client);
    const auth = { client_id: client.clientId, client_secret: body.client_secret };
    const tokens = await tokenRequest(example.url, { grant_type: "authorization_code", code, code_verifier: verifier, ...auth });
    expect(tokens.status).toBe(200);
    const rotated = await tokenRequest(example.url, { grant_type: "refresh_token", refresh_token: tokens.body.refresh_token!, ...auth });
    expect(rotated.status).toBe(200);
    secrets.push(code, pending.code, tokens.body.refresh_token!, rotated.body.refresh_token!);

    const { rows } = await admin.query<{ key: string; value: string }>(`SELECT key, value::text AS value FROM ${pg.escapeIdentifier(schema)}.entries`);
    expect(rows.length).toBeGreaterThan(5);
    const dump = rows.map((row) => `${row.key}\n${row.value}`).join("\n");
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(15);
      expect(dump).not.toContain(secret);
    }
  });
});
