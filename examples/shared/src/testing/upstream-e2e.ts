import { existsSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrowserProvider, CHROMIUM, callbackServer, freePort, launchChromium, type RunningExample } from "./e2e.js";

/** What the suite needs of a test identity provider (`startTestIdp` in packages/core/test/upstream/idp.ts). */
export interface UpstreamIdp {
  issuer: string;
  counts: { refresh_token: number; revocations: number };
  stop(): Promise<void>;
}

export type StartIdp = (options: {
  clients: { client_id: string; client_secret?: string; redirect_uris: string[]; token_endpoint_auth_method?: string }[];
  accessTokenTtlSeconds?: number;
}) => Promise<UpstreamIdp>;

const UPSTREAM_CLIENT = { id: "portcullis-demo", secret: "upstream-demo-secret-0123456789" };
/** Upstream access tokens live this long, so the suite sees one expire and get refreshed. */
const UPSTREAM_TOKEN_SECONDS = 4;

/** The e2e client, asking with a `state` so the suite can see it come back on a refusal. */
const FEDERATION_CLIENT = { clientName: "Portcullis federation e2e client", state: true };

const textOf = (result: Awaited<ReturnType<Client["callTool"]>>) => (result.content as { type: string; text: string }[])[0]!.text;

/**
 * The federation end-to-end test every example runs: a real OpenID provider on loopback is the
 * upstream (`UPSTREAM_ISSUER`); the official MCP SDK client signs in through real Chromium (the
 * Portcullis consent page, then the provider's login and consent), calls `whoami` and
 * `upstream_userinfo`, and again after the upstream access token expired.
 */
export function describeUpstreamE2E(name: string, startIdp: StartIdp, start: (env: Record<string, string>) => Promise<RunningExample>): void {
  const browserMissing = !existsSync(CHROMIUM);
  if (browserMissing) {
    const reason = `no Chromium at ${CHROMIUM} (install Debian's chromium, or set CHROMIUM_PATH)`;
    if (process.env.CI) throw new Error(`${name} federation e2e: ${reason}; CI must run the browser tests`);
    console.warn(`[e2e] ${name} federation skipped: ${reason}`);
  }

  describe.skipIf(browserMissing)(`MCP SDK client through an upstream identity provider: ${name}`, () => {
    let example: RunningExample;
    let idp: UpstreamIdp;
    let browser: Browser;
    let callback: Awaited<ReturnType<typeof callbackServer>>;

    beforeAll(async () => {
      const port = await freePort();
      const publicUrl = `http://localhost:${port}`;
      [idp, browser, callback] = await Promise.all([
        startIdp({
          clients: [
            {
              client_id: UPSTREAM_CLIENT.id,
              client_secret: UPSTREAM_CLIENT.secret,
              redirect_uris: [`${publicUrl}/upstream/callback`],
              token_endpoint_auth_method: "client_secret_basic",
            },
          ],
          accessTokenTtlSeconds: UPSTREAM_TOKEN_SECONDS,
        }),
        launchChromium(),
        callbackServer(),
      ]);
      example = await start({
        PORT: String(port),
        UPSTREAM_ISSUER: idp.issuer,
        UPSTREAM_CLIENT_ID: UPSTREAM_CLIENT.id,
        UPSTREAM_CLIENT_SECRET: UPSTREAM_CLIENT.secret,
      });
    }, 90_000);
    afterAll(async () => {
      await Promise.all([example?.stop(), browser?.close(), callback?.close()]);
      await idp?.stop();
    });

    const mcpUrl = () => new URL(`${example.url}/mcp`);

    /** Opens the authorization URL in a fresh browser context and goes through both consent pages and the provider's login. */
    const browse =
      (steps: (page: Page) => Promise<void>, visited: string[] = []) =>
      async (url: URL) => {
        const context = await browser.newContext();
        const page = await context.newPage();
        page.on("request", (request) => visited.push(request.url()));
        await page.goto(url.href);
        await steps(page);
        await context.close();
      };
    const backAtClient = (page: Page) => page.waitForURL(/127\.0\.0\.1:\d+\/callback/);

    const allowAndSignIn = async (page: Page) => {
      // Portcullis's own consent page first: no password form here.
      expect(await page.locator('input[name="password"]').count()).toBe(0);
      expect(await page.content()).toContain("Portcullis federation e2e client");
      await Promise.all([page.waitForURL((u) => u.href.startsWith(idp.issuer)), page.click('button[name="decision"][value="allow"]')]);
      await page.fill('input[name="login"]', "alice");
      await page.fill('input[name="password"]', "any-password");
      await Promise.all([page.waitForURL((u) => u.href.startsWith(idp.issuer) && u.pathname.includes("interaction")), page.click('button[type="submit"]')]);
      // The provider's own consent (offline_access asked with prompt=consent).
      await Promise.all([backAtClient(page), page.click('button[type="submit"]')]);
    };

    async function connect(provider: BrowserProvider) {
      const client = new Client({ name: "portcullis-federation-e2e", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider }));
      return client;
    }

    it("PX-1, PX-8: signs in at the upstream after Portcullis consent, calls whoami and upstream_userinfo, also after the upstream access token expired", async () => {
      const provider = new BrowserProvider(callback.redirectUrl, browse(allowAndSignIn), FEDERATION_CLIENT);
      const redirected = callback.next();
      const first = new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider });
      await expect(new Client({ name: "portcullis-federation-e2e", version: "1.0.0" }).connect(first)).rejects.toThrow(/Unauthorized/i);
      const params = await redirected;
      expect(params.get("iss")).toBe(example.url);
      await first.finishAuth(params.get("code")!);

      const client = await connect(provider);
      expect((await client.listTools()).tools.map((t) => t.name)).toContain("upstream_userinfo");
      const who = await client.callTool({ name: "whoami", arguments: {} });
      expect(who.structuredContent).toMatchObject({ subject: "alice", email: "alice@idp.example", clientId: provider.info!.client_id });
      expect(textOf(who)).toContain("alice@idp.example");
      const info = await client.callTool({ name: "upstream_userinfo", arguments: {} });
      expect(info.isError).toBeFalsy();
      expect(JSON.parse(textOf(info))).toMatchObject({ sub: "alice", email: "alice@idp.example" });

      // The upstream access token expires; the next call refreshes it at the provider first.
      const refreshes = idp.counts.refresh_token;
      await new Promise((resolve) => setTimeout(resolve, (UPSTREAM_TOKEN_SECONDS + 1) * 1000));
      const again = await client.callTool({ name: "upstream_userinfo", arguments: {} });
      expect(again.isError).toBeFalsy();
      expect(JSON.parse(textOf(again))).toMatchObject({ sub: "alice" });
      expect(idp.counts.refresh_token).toBeGreaterThan(refreshes);
      await client.close();

      // Signing out here (RFC 7009) revokes the upstream refresh token too.
      const revocations = idp.counts.revocations;
      const revoked = await fetch(`${example.url}/revoke`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: provider.saved!.refresh_token!, client_id: provider.info!.client_id }),
      });
      expect(revoked.status).toBe(200);
      expect(idp.counts.revocations).toBe(revocations + 1);
    });

    it("brings a denied Portcullis consent back as access_denied, and the browser never visits the provider", async () => {
      const visited: string[] = [];
      const provider = new BrowserProvider(
        callback.redirectUrl,
        browse(async (page) => {
          await Promise.all([backAtClient(page), page.click('button[name="decision"][value="deny"]')]);
        }, visited),
        FEDERATION_CLIENT,
      );
      const redirected = callback.next();
      await expect(
        new Client({ name: "portcullis-federation-e2e", version: "1.0.0" }).connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider })),
      ).rejects.toThrow(/Unauthorized/i);
      const params = await redirected;
      expect(params.get("error")).toBe("access_denied");
      expect(params.get("iss")).toBe(example.url);
      expect(params.get("code")).toBeNull();
      expect(visited.some((u) => u.startsWith(idp.issuer))).toBe(false);
    });

    it("brings a sign-in cancelled at the provider back as access_denied with the client's state and iss", async () => {
      const provider = new BrowserProvider(
        callback.redirectUrl,
        browse(async (page) => {
          await Promise.all([page.waitForURL((u) => u.href.startsWith(idp.issuer)), page.click('button[name="decision"][value="allow"]')]);
          await Promise.all([backAtClient(page), page.click('a[href*="/abort"]')]);
        }),
        FEDERATION_CLIENT,
      );
      const redirected = callback.next();
      await expect(
        new Client({ name: "portcullis-federation-e2e", version: "1.0.0" }).connect(new StreamableHTTPClientTransport(mcpUrl(), { authProvider: provider })),
      ).rejects.toThrow(/Unauthorized/i);
      const params = await redirected;
      expect(params.get("error")).toBe("access_denied");
      expect(params.get("state")).toBeTruthy();
      expect(params.get("iss")).toBe(example.url);
      expect(params.get("code")).toBeNull();
    });
  });
}
