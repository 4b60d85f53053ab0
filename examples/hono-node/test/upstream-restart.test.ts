import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { authorizationUrl, freePort, registerClient, startExample, tokenRequest, type RunningExample } from "@portcullis/example-shared/testing";
import { Agent, formOf, formPost, signInAtIdp } from "../../../packages/core/test/upstream/agent.js";
import { startTestIdp, type TestIdp } from "../../../packages/core/test/upstream/idp.js";

const dir = fileURLToPath(new URL("..", import.meta.url));
const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});

const UPSTREAM = { id: "portcullis-demo", secret: "upstream-demo-secret-0123456789" };

async function callTool(base: string, accessToken: string, name: string) {
  const response = await fetch(`${base}/mcp`, {
    method: "POST",
    headers: { Authorization: `Bearer ${accessToken}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: {} } }),
  });
  const text = await response.text();
  const body = text ? (JSON.parse(text) as { result?: { isError?: boolean; content: { text: string }[] } }) : undefined;
  return { status: response.status, challenge: response.headers.get("WWW-Authenticate"), result: body?.result };
}

/** Signs a user in over plain HTTP: Portcullis consent, the provider's development pages, the callback. */
async function signIn(base: string, client: { clientId: string; redirectUri: string }) {
  const agent = new Agent();
  const { url, verifier } = authorizationUrl(base, client, { state: "s1" });
  const page = await agent.request(url.href);
  const { action, fields } = formOf(await page.text(), base);
  const allowed = await agent.request(action, formPost({ ...fields, decision: "allow" }));
  const callback = await signInAtIdp(agent, allowed.headers.get("Location")!, "alice", `${base}/upstream/callback`);
  const back = await agent.request(callback.href);
  const code = new URL(back.headers.get("Location")!).searchParams.get("code")!;
  const tokens = await tokenRequest(base, { grant_type: "authorization_code", code, code_verifier: verifier, client_id: client.clientId });
  expect(tokens.status).toBe(200);
  return tokens.body;
}

describe("Federation configuration", () => {
  it("refuses an http:// UPSTREAM_ISSUER that is not a loopback address, at start", async () => {
    await expect(startExample(dir, { UPSTREAM_ISSUER: "http://idp.example", UPSTREAM_CLIENT_ID: "x" })).rejects.toThrow(/only on a loopback address/);
  });
});

describe("Federation on SQLite: restart and encryption at rest", () => {
  it("generates the upstream token key beside the database, keeps no upstream token in plaintext, refuses the upstream token at /mcp, and serves upstream_userinfo after a restart", async () => {
    const folder = mkdtempSync(join(tmpdir(), "portcullis-upstream-"));
    const db = join(folder, "store.db");
    const port = await freePort();
    const base = `http://localhost:${port}`;
    const idp: TestIdp = await startTestIdp({
      clients: [{ client_id: UPSTREAM.id, client_secret: UPSTREAM.secret, redirect_uris: [`${base}/upstream/callback`] }],
    });
    running.push(idp);
    const env = {
      STORE: `sqlite:${db}`,
      PORT: String(port),
      UPSTREAM_ISSUER: idp.issuer,
      UPSTREAM_CLIENT_ID: UPSTREAM.id,
      UPSTREAM_CLIENT_SECRET: UPSTREAM.secret,
    };
    const start = async () => {
      const example: RunningExample = await startExample(dir, env);
      running.push({ stop: () => example.stop("SIGKILL") });
      return example;
    };
    const first = await start();
    expect(first.output()).toContain(`${db}.upstream-token-key`);
    expect(existsSync(`${db}.upstream-token-key`)).toBe(true);

    const client = await registerClient(base);
    const tokens = await signIn(base, client);
    const who = await callTool(base, tokens.access_token!, "whoami");
    expect(who.result?.content[0]?.text).toContain("alice@idp.example");
    const info = await callTool(base, tokens.access_token!, "upstream_userinfo");
    expect(info.result?.isError).toBeFalsy();
    expect(JSON.parse(info.result!.content[0]!.text)).toMatchObject({ sub: "alice", email: "alice@idp.example" });

    // The provider's own tokens: never in the database in plaintext, never accepted at /mcp.
    expect(idp.issuedTokens.length).toBeGreaterThanOrEqual(2);
    const files = readdirSync(folder).filter((f) => f.startsWith("store.db") && !f.endsWith("upstream-token-key"));
    const stored = files.map((f) => readFileSync(join(folder, f)).toString("latin1")).join("\n");
    expect(stored.length).toBeGreaterThan(0);
    for (const token of idp.issuedTokens) expect(stored).not.toContain(token);
    for (const token of idp.issuedTokens) {
      const refused = await callTool(base, token, "whoami");
      expect(refused.status).toBe(401);
      expect(refused.challenge).toContain('error="invalid_token"');
    }

    await first.stop("SIGKILL");
    await start();
    const after = await callTool(base, tokens.access_token!, "upstream_userinfo");
    expect(after.result?.isError).toBeFalsy();
    expect(JSON.parse(after.result!.content[0]!.text)).toMatchObject({ sub: "alice" });
  });
});
