import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientInformationMixed, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { E2E_USER } from "./http-flow.js";

export { describeKeyRotation } from "./key-rotation.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Headless Chromium for the browser suites: no sandbox, GPU, QUIC or background traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
const USERNAME = E2E_USER.username;
const PASSWORD = E2E_USER.password;

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A running example process. */
export interface RunningExample {
  url: string;
  process: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts an example as a user would (`tsx src/main.ts` in its folder) with the example contract's
 * environment, and waits until it prints that it is listening.
 */
export async function startExample(
  dir: string,
  env: Record<string, string> = {},
  command = ["npx", "tsx", "--conditions=portcullis:source", "src/main.ts"],
): Promise<RunningExample> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const child = spawn(command[0]!, command.slice(1), {
    cwd: dir,
    env: { ...process.env, PORT: String(port), DEMO_USERNAME: USERNAME, DEMO_PASSWORD: PASSWORD, STORE: "memory", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`example did not start in 45 s:\n${output}`)), 45_000);
    const check = () => {
      if (/listening on port/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", check);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`example exited with ${code}:\n${output}`));
    });
  });
  child.removeAllListeners("exit");
  return {
    url: env.PUBLIC_URL ?? `http://localhost:${port}`,
    process: child,
    output: () => output,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      try {
        process.kill(-child.pid!, signal);
      } catch {
        return;
      }
      await exited;
    },
  };
}

/** A loopback redirect target that records what the authorization server sends back. */
export async function callbackServer() {
  const waiters: ((params: URLSearchParams) => void)[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url!, "http://127.0.0.1");
    // Only the redirect counts, not what the browser asks besides (its favicon).
    if (url.pathname !== "/callback") return void res.writeHead(404).end();
    res.writeHead(200, { "Content-Type": "text/plain" }).end("You may close this window.");
    waiters.shift()?.(url.searchParams);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    redirectUrl: `http://127.0.0.1:${port}/callback`,
    next: () => new Promise<URLSearchParams>((resolve) => waiters.push(resolve)),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** An in-memory OAuthClientProvider whose "browser" is a real headless Chromium. */
export class BrowserProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = "";
  readonly redirectUrl: string;
  private readonly open: (url: URL) => Promise<void>;
  private readonly clientName: string;
  /** Present when asked for: the SDK then sends a `state` with each authorization request. */
  readonly state?: () => string;
  constructor(redirectUrl: string, open: (url: URL) => Promise<void>, options: { clientName?: string; state?: boolean } = {}) {
    this.redirectUrl = redirectUrl;
    this.open = open;
    this.clientName = options.clientName ?? "Portcullis e2e client";
    if (options.state) this.state = () => `e2e-${Math.random().toString(36).slice(2)}`;
  }
  get clientMetadata() {
    return {
      client_name: this.clientName,
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  async redirectToAuthorization(url: URL) {
    await this.open(url);
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

/**
 * Drives the built-in pages in a browser: the login page (username, password, one submit
 * button), then the consent page (no password field), where it clicks `decision`; waits for the
 * redirect back to the loopback callback.
 */
export async function signInThenDecide(page: Page, decision: "allow" | "deny", password = PASSWORD, username = USERNAME): Promise<void> {
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="password"]', password);
  await Promise.all([page.waitForURL(/\/authorize\/consent\?/), page.click('form button[type="submit"]')]);
  if ((await page.locator('input[name="password"]').count()) !== 0) throw new Error("the consent page asks for a password");
  await Promise.all([page.waitForURL(/127\.0\.0\.1:\d+\/callback/), page.click(`button[name="decision"][value="${decision}"]`)]);
}

/**
 * The end-to-end test every example runs: the official MCP SDK client, knowing only the MCP URL,
 * discovers, registers, signs a user in through real Chromium, calls `whoami`, refreshes, and is
 * refused after revocation; a denied consent comes back as `access_denied`.
 */
export function describeMcpClientE2E(name: string, start: () => Promise<RunningExample>): void {
  const browserMissing = !existsSync(CHROMIUM);
  if (browserMissing) {
    const reason = `no Chromium at ${CHROMIUM} (install Debian's chromium, or set CHROMIUM_PATH)`;
    if (process.env.CI) throw new Error(`${name} e2e: ${reason}; CI must run the browser tests`);
    console.warn(`[e2e] ${name} skipped: ${reason}`);
  }

  describe.skipIf(browserMissing)(`MCP SDK client end to end: ${name}`, () => {
    let example: RunningExample;
    let browser: Browser;
    let callback: Awaited<ReturnType<typeof callbackServer>>;

    beforeAll(async () => {
      [example, browser, callback] = await Promise.all([start(), launchChromium(), callbackServer()]);
    }, 90_000);
    afterAll(async () => {
      await Promise.all([example?.stop(), browser?.close(), callback?.close()]);
    });

    /** Opens the authorization URL in a fresh browser context: the login page, then the consent page. */
    const signInPage =
      (decision: "allow" | "deny", password = PASSWORD) =>
      async (url: URL) => {
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(url.href);
        await signInThenDecide(page, decision, password);
        await context.close();
      };

    const mcpUrl = () => new URL(`${example.url}/mcp`);

    async function connect(provider: BrowserProvider) {
      const client = new Client({ name: "portcullis-e2e", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider }));
      return client;
    }

    it("signs in through the browser, calls whoami, refreshes, and is refused after revocation", async () => {
      const provider = new BrowserProvider(callback.redirectUrl, signInPage("allow"));
      const redirected = callback.next();
      const first = new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider });
      const client = new Client({ name: "portcullis-e2e", version: "1.0.0" });
      await expect(client.connect(first)).rejects.toThrow(/Unauthorized/i);
      const params = await redirected;
      expect(params.get("iss")).toBe(example.url);
      await first.finishAuth(params.get("code")!);
      expect(provider.saved?.refresh_token).toBeTypeOf("string");

      const signedIn = await connect(provider);
      const tools = await signedIn.listTools();
      expect(tools.tools.map((t) => t.name)).toContain("whoami");
      const result = await signedIn.callTool({ name: "whoami", arguments: {} });
      expect(result.structuredContent).toMatchObject({ username: USERNAME, clientId: provider.info!.client_id, scopes: ["mcp:tools"] });
      await signedIn.close();

      // A rejected access token makes the client refresh on its own; rotation hands it a new one.
      const oldRefresh = provider.saved!.refresh_token!;
      provider.saved = { ...provider.saved!, access_token: "not-a-valid-token" };
      const refreshedClient = await connect(provider);
      expect((await refreshedClient.callTool({ name: "whoami", arguments: {} })).structuredContent).toMatchObject({ username: USERNAME });
      expect(provider.saved!.refresh_token).not.toBe(oldRefresh);
      await refreshedClient.close();

      // Revoke the grant the way a client signs out (RFC 7009); the access token stops working.
      const { access_token: accessToken, refresh_token: refreshToken } = provider.saved!;
      const revoked = await fetch(`${example.url}/revoke`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: refreshToken!, client_id: provider.info!.client_id }),
      });
      expect(revoked.status).toBe(200);
      const refused = await fetch(mcpUrl(), {
        method: "POST",
        headers: { Authorization: `Bearer ${accessToken}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      expect(refused.status).toBe(401);
      expect(refused.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
    });

    it("steps up: a tool that needs mcp:admin gets 403 insufficient_scope, and after re-authorization the call succeeds with the union of scopes", async () => {
      const provider = new BrowserProvider(callback.redirectUrl, signInPage("allow"));
      const firstRedirect = callback.next();
      const transport = new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider });
      await expect(new Client({ name: "portcullis-e2e", version: "1.0.0" }).connect(transport)).rejects.toThrow(/Unauthorized/i);
      await transport.finishAuth((await firstRedirect).get("code")!);
      expect(provider.saved?.scope).toBe("mcp:tools");

      // Without the scope, the guard refuses the call before the MCP server sees it.
      const raw = await fetch(mcpUrl(), {
        method: "POST",
        headers: { Authorization: `Bearer ${provider.saved!.access_token}`, "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "admin_echo", arguments: { text: "hi" } } }),
      });
      expect(raw.status).toBe(403);
      expect(raw.headers.get("WWW-Authenticate")).toContain('error="insufficient_scope"');
      expect(raw.headers.get("WWW-Authenticate")).toMatch(/scope="mcp:admin mcp:tools"|scope="mcp:tools mcp:admin"/);

      // The SDK client follows the challenge into a new authorization (a client holding a refresh
      // token would first try refreshing, which cannot widen scope; drop it to take the step-up path).
      provider.saved = { ...provider.saved!, refresh_token: undefined };
      const client = await connect(provider);
      const stepUp = callback.next();
      await expect(client.callTool({ name: "admin_echo", arguments: { text: "hi" } })).rejects.toThrow(/Unauthorized/i);
      const params = await stepUp;
      const again = new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider });
      await again.finishAuth(params.get("code")!);
      expect(provider.saved!.scope!.split(" ").sort()).toEqual(["mcp:admin", "mcp:tools"]);
      const upgraded = await connect(provider);
      expect((await upgraded.callTool({ name: "admin_echo", arguments: { text: "hi" } })).structuredContent).toEqual({ text: "hi" });
      const who = (await upgraded.callTool({ name: "whoami", arguments: {} })).structuredContent as { scopes: string[] };
      expect([...who.scopes].sort()).toEqual(["mcp:admin", "mcp:tools"]);
      await Promise.all([client.close(), upgraded.close()]);
    });

    it("brings a denied consent back to the client as access_denied with state and iss", async () => {
      const provider = new BrowserProvider(callback.redirectUrl, signInPage("deny"));
      const redirected = callback.next();
      const client = new Client({ name: "portcullis-e2e", version: "1.0.0" });
      await expect(client.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider }))).rejects.toThrow(/Unauthorized/i);
      const params = await redirected;
      expect(params.get("error")).toBe("access_denied");
      expect(params.get("iss")).toBe(example.url);
      expect(params.get("code")).toBeNull();
      expect(provider.saved).toBeUndefined();
    });
  });
}

export { authorizationUrl, authorize, callWhoami, E2E_USER, registerClient, signInForTokens, tokenRequest } from "./http-flow.js";
export { describeHostileInputs } from "./hostile.js";
export { describeAuditExploits } from "./audit.js";
export { describeGuardExploits } from "./guard-exploits.js";
export { describeResourceServerMode } from "./resource-server.js";
export { describePagesE2E } from "./pages.js";
export { describeUpstreamE2E } from "./upstream-e2e.js";
export type { StartIdp, UpstreamIdp } from "./upstream-e2e.js";
