import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CHROMIUM, signInThenDecide, startExample, type RunningExample } from "@portcullis/example-shared/testing";
import { E2E_USER } from "@portcullis/example-shared/http-flow";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuthFetch } from "../src/auth-fetch.js";
import { createFileStore } from "../src/file-store.js";
import { createOAuthClientProvider } from "../src/provider.js";
import { runCli, sessionFile, startCli, tempHome } from "./cli-helpers.js";

const EXAMPLE = fileURLToPath(new URL("../../../examples/hono-node", import.meta.url));
const browserMissing = !existsSync(CHROMIUM);
if (browserMissing && process.env.CI) throw new Error(`no Chromium at ${CHROMIUM}: CI must run the browser tests`);

describe.skipIf(browserMissing)("portcullis against the hono-node example, signing in through Chromium", () => {
  let example: RunningExample;
  let browser: Browser;
  const home = tempHome();
  const env = { PORTCULLIS_HOME: home };
  const mcpUrl = () => `${example.url}/mcp`;

  beforeAll(async () => {
    [example, browser] = await Promise.all([
      startExample(EXAMPLE),
      chromium.launch({
        executablePath: CHROMIUM,
        args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      }),
    ]);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([example?.stop(), browser?.close()]);
  });

  /** Opens the authorization URL in a fresh context and answers the login and consent pages. */
  async function consent(url: string, decision: "allow" | "deny") {
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(url);
      // A fresh context has no session: the login page, then the consent page.
      await signInThenDecide(page, decision, E2E_USER.password, E2E_USER.username);
      return await page.textContent("body");
    } finally {
      await context.close();
    }
  }

  async function login(decision: "allow" | "deny" = "allow", args: string[] = []) {
    const run = startCli(["login", mcpUrl(), "--no-open", ...args], env);
    const line = await run.firstLine;
    const url = new URL(line);
    const page = await consent(line, decision);
    return { url, page, result: await run.done, stderrLine: line };
  }

  const mcpPost = (token: string, body: unknown) =>
    fetch(mcpUrl(), {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify(body),
    });
  const initialize = {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
  };

  let firstClientId = "";

  it("C-4: login asks with PKCE S256, state and resource, prints the URL alone on stderr, stores 0600 files; token is a bearer on /mcp", async () => {
    const { url, result, stderrLine, page } = await login();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr.trim()).toBe(stderrLine);
    expect(page).toMatch(/Signed in/);
    const q = url.searchParams;
    expect(q.get("response_type")).toBe("code");
    expect(q.get("code_challenge_method")).toBe("S256");
    expect(q.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get("state")!.length).toBeGreaterThanOrEqual(20);
    expect(q.get("resource")).toBe(mcpUrl());
    expect(q.get("redirect_uri")).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    firstClientId = q.get("client_id")!;

    const file = sessionFile(home);
    expect(statSync(file.path).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "sessions")).mode & 0o777).toBe(0o700);
    expect(file.read()).toMatchObject({ version: 1, mcp_url: mcpUrl(), resource: mcpUrl(), issuer: example.url });

    const token = await runCli(["token", mcpUrl()], env);
    expect(token.code).toBe(0);
    expect(token.stdout).toBe(`${file.read().access_token}\n`);
    expect((await mcpPost(token.stdout.trim(), initialize)).status).toBe(200);
    expect((await mcpPost("not-a-token", initialize)).status).toBe(401);
  });

  it("token refreshes only within 60 s of expiry, and stores the rotated refresh token", async () => {
    const file = sessionFile(home);
    const before = file.read();
    const again = await runCli(["token", mcpUrl()], env);
    expect(again.stdout.trim()).toBe(before.access_token);
    expect(file.read().refresh_token).toBe(before.refresh_token);

    file.write({ ...before, expires_at: Math.floor(Date.now() / 1000) + 30 });
    const refreshed = await runCli(["token", mcpUrl()], env);
    expect(refreshed.code, refreshed.stderr).toBe(0);
    const after = file.read();
    expect(refreshed.stdout.trim()).toBe(after.access_token);
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).toBeTruthy();
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(after.expires_at! - Date.now() / 1000).toBeGreaterThan(60);
    expect((await mcpPost(after.access_token, initialize)).status).toBe(200);
  });

  it("two parallel token processes with an expiring token refresh once and print the same token", async () => {
    const file = sessionFile(home);
    const before = file.read();
    file.write({ ...before, expires_at: Math.floor(Date.now() / 1000) - 5 });
    const [a, b] = await Promise.all([runCli(["token", mcpUrl()], env), runCli(["token", mcpUrl()], env)]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    // Had both refreshed, the second would have replayed a spent refresh token: the server then
    // revokes the grant, so one would fail and the stored tokens would be dead.
    expect(a.stdout).toBe(b.stdout);
    const after = file.read();
    expect(a.stdout.trim()).toBe(after.access_token);
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect((await mcpPost(after.access_token, initialize)).status).toBe(200);
    const next = await runCli(["token", mcpUrl()], env);
    expect(next.stdout).toBe(a.stdout);
  });

  it("the MCP SDK transport connects with createOAuthClientProvider after login, without a browser", async () => {
    const provider = createOAuthClientProvider(mcpUrl(), { store: createFileStore({ home }) });
    const client = new Client({ name: "portcullis-client-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl()), { authProvider: provider }));
    const result = await client.callTool({ name: "whoami", arguments: {} });
    expect(result.structuredContent).toMatchObject({ username: E2E_USER.username, clientId: firstClientId });
    await client.close();
  });

  it("steps up on 403 insufficient_scope with a new authorization for the union of scopes (createAuthFetch)", async () => {
    const authFetch = createAuthFetch(mcpUrl(), {
      store: createFileStore({ home }),
      openUrl: async (url) => {
        expect(url.searchParams.get("scope")!.split(" ").sort()).toEqual(expect.arrayContaining(["mcp:admin", "mcp:tools"]));
        await consent(url.href, "allow");
      },
    });
    const call = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "admin_echo", arguments: { text: "hi" } } };
    const response = await authFetch(mcpUrl(), {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify(call),
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('"hi"');
    expect(sessionFile(home).read().scope!.split(" ")).toEqual(expect.arrayContaining(["mcp:admin", "mcp:tools"]));
  });

  it("a second login reuses the stored registration instead of registering again", async () => {
    const { url, result } = await login();
    expect(result.code, result.stderr).toBe(0);
    expect(url.searchParams.get("client_id")).toBe(firstClientId);
  });

  it("logout revokes the refresh token (RFC 7009) and deletes the stored tokens; token then exits 1", async () => {
    const file = sessionFile(home);
    const { refresh_token, client_id } = file.read();
    const out = await runCli(["logout", mcpUrl()], env);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/revoked/);
    expect(existsSync(file.path)).toBe(false);
    const replay = await fetch(`${example.url}/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refresh_token!, client_id, resource: mcpUrl() }),
    });
    expect(replay.status).toBe(400);
    expect(((await replay.json()) as { error: string }).error).toBe("invalid_grant");
    const token = await runCli(["token", mcpUrl()], env);
    expect(token.code).toBe(1);
    expect(token.stdout).toBe("");
    expect(token.stderr).toMatch(/not signed in/);
  });

  it("a denied consent exits non-zero naming access_denied and stores nothing", async () => {
    const { result } = await login("deny");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/access_denied/);
    expect(existsSync(join(home, "sessions")) ? sessionFile.bind(null, home) : () => undefined).toThrow();
  });

  it("portcullis check passes every item against the example", async () => {
    const out = await runCli(["check", mcpUrl(), "--json"]);
    expect(out.code, out.stdout).toBe(0);
    const report = JSON.parse(out.stdout) as { checks: { status: string }[] };
    expect(report.checks.every((c) => c.status === "pass")).toBe(true);
  });
});
