import { existsSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrowserProvider, CHROMIUM, callbackServer, launchChromium, type RunningExample } from "./e2e.js";
import { callWhoami } from "./http-flow.js";
import type { TestIdp } from "./test-idp.js";

/** The authorization-server endpoints an example serves in its default mode, and must not in resource-server mode. */
const AS_ENDPOINTS: [method: "GET" | "POST", path: string][] = [
  ["GET", "/.well-known/oauth-authorization-server"],
  ["GET", "/.well-known/oauth-authorization-server/mcp"],
  ["GET", "/.well-known/openid-configuration"],
  ["GET", "/authorize?response_type=code&client_id=x"],
  ["POST", "/authorize"],
  ["POST", "/token"],
  ["POST", "/register"],
  ["POST", "/revoke"],
  ["POST", "/introspect"],
  ["GET", "/jwks.json"],
];

const challengeError = (response: Response) => /error="([^"]+)"/.exec(response.headers.get("WWW-Authenticate") ?? "")?.[1];

/**
 * AUTH_MODE=resource-server against a real upstream (oidc-provider on loopback): no
 * authorization-server endpoint, protected resource metadata naming the upstream, its RS256 JWTs
 * and introspected opaque tokens for `${PUBLIC_URL}/mcp` accepted, every other token refused with
 * 401 `invalid_token`. With `browser`, the official MCP SDK client signs in at the upstream
 * through Chromium and calls `whoami`.
 *
 * @param start Starts the example with the extra environment given.
 */
export function describeResourceServerMode(
  name: string,
  start: (env: Record<string, string>) => Promise<RunningExample>,
  options: { browser?: boolean } = {},
): void {
  const browserMissing = options.browser === true && !existsSync(CHROMIUM);
  if (browserMissing && process.env.CI) throw new Error(`${name} resource-server e2e: no Chromium at ${CHROMIUM}; CI must run the browser tests`);

  describe(`AUTH_MODE=resource-server: ${name}`, () => {
    let idp: TestIdp;
    let foreignIdp: TestIdp;
    let example: RunningExample;
    const mcp = () => `${example.url}/mcp`;

    beforeAll(async () => {
      // Loaded here, so the other end-to-end tests never load oidc-provider.
      const { startTestIdp } = await import("./test-idp.js");
      [idp, foreignIdp] = await Promise.all([startTestIdp(), startTestIdp()]);
      example = await start({
        AUTH_MODE: "resource-server",
        UPSTREAM_ISSUER: idp.issuer,
        UPSTREAM_INTROSPECTION_CLIENT_ID: idp.introspector.clientId,
        UPSTREAM_INTROSPECTION_CLIENT_SECRET: idp.introspector.clientSecret,
      });
    }, 90_000);
    afterAll(async () => {
      await Promise.all([example?.stop(), idp?.close(), foreignIdp?.close()]);
    });

    it("mounts no authorization-server endpoint (404 or 405)", async () => {
      for (const [method, path] of AS_ENDPOINTS) {
        const response = await fetch(`${example.url}${path}`, {
          method,
          redirect: "manual",
          ...(method === "POST" ? { headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "grant_type=client_credentials" } : {}),
        });
        await response.body?.cancel();
        expect([404, 405], `${method} ${path}`).toContain(response.status);
      }
    });

    it("RS-PRM-1, RS-PRM-3: the protected resource metadata names the upstream issuer and mcp:tools", async () => {
      const response = await fetch(`${example.url}/.well-known/oauth-protected-resource/mcp`);
      expect(response.status).toBe(200);
      const metadata = (await response.json()) as Record<string, unknown>;
      expect(metadata.resource).toBe(mcp());
      expect(metadata.authorization_servers).toEqual([idp.issuer]);
      expect(metadata.scopes_supported).toContain("mcp:tools");
      const upstream = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as { issuer: string };
      expect(upstream.issuer).toBe(idp.issuer);
      const unauthenticated = await fetch(mcp(), { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
      expect(unauthenticated.status).toBe(401);
      expect(unauthenticated.headers.get("WWW-Authenticate")).toContain(`resource_metadata="${example.url}/.well-known/oauth-protected-resource/mcp"`);
    });

    it("RS-TOK-2: accepts the upstream's RS256 JWT access token for this resource", async () => {
      const token = await idp.clientCredentialsToken(mcp());
      expect(JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString())).toMatchObject({ alg: "RS256", typ: "at+jwt" });
      const { status, body } = await callWhoami(example.url, token);
      expect(status).toBe(200);
      expect(body?.result?.structuredContent).toMatchObject({ subject: "machine-jwt", clientId: "machine-jwt", scopes: ["mcp:tools"] });
    });

    it("RS-TOK-1, RS-TOK-4: refuses a token for another resource and one of a foreign issuer with 401 invalid_token", async () => {
      for (const token of [await idp.clientCredentialsToken("http://localhost:1/mcp"), await foreignIdp.clientCredentialsToken(mcp())]) {
        const response = await fetch(mcp(), { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: "{}" });
        expect(response.status).toBe(401);
        expect(challengeError(response)).toBe("invalid_token");
      }
    });

    it("RS-TOK-3: accepts an active opaque token by introspection; refuses an inactive, a revoked and an expired one with 401 invalid_token", async () => {
      const opaque = await idp.clientCredentialsToken(mcp(), { kind: "opaque" });
      expect(opaque.split(".")).toHaveLength(1);
      const accepted = await callWhoami(example.url, opaque);
      expect(accepted.status).toBe(200);
      expect(accepted.body?.result?.structuredContent).toMatchObject({ clientId: "machine-opaque", scopes: ["mcp:tools"] });

      const revoked = await idp.clientCredentialsToken(mcp(), { kind: "opaque" });
      await idp.revoke(revoked);
      const short = await idp.clientCredentialsToken(mcp(), { kind: "short" });
      expect((await callWhoami(example.url, short)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const foreignAudience = await idp.clientCredentialsToken("http://localhost:1/mcp", { kind: "opaque" });
      for (const token of ["never-issued-token", revoked, short, foreignAudience]) {
        const response = await fetch(mcp(), { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: "{}" });
        expect(response.status, token).toBe(401);
        expect(challengeError(response)).toBe("invalid_token");
      }
    });

    it("refuses to start with an http issuer off loopback", async () => {
      await expect(start({ AUTH_MODE: "resource-server", UPSTREAM_ISSUER: "http://idp.example.com" })).rejects.toThrow(/UPSTREAM_ISSUER must be an https URL/);
    });

    describe.skipIf(!options.browser || browserMissing)("the MCP SDK client signs in at the upstream", () => {
      let browser: Browser;
      let callback: Awaited<ReturnType<typeof callbackServer>>;
      beforeAll(async () => {
        [browser, callback] = await Promise.all([launchChromium(), callbackServer()]);
      }, 60_000);
      afterAll(async () => {
        await Promise.all([browser?.close(), callback?.close()]);
      });

      /** Signs in at oidc-provider's development pages (any login) and consents. */
      const signInUpstream = (login: string) => async (url: URL) => {
        const context = await browser.newContext();
        // Its pages import a web font: nothing leaves the machine.
        await context.route(/^https?:\/\/(?!127\.0\.0\.1|localhost)/, (route) => route.abort());
        const page = await context.newPage();
        await page.goto(url.href);
        await page.fill('input[name="login"]', login);
        await page.fill('input[name="password"]', "any-password");
        await Promise.all([page.waitForURL(/\/interaction\//), page.click('button[type="submit"]')]);
        await Promise.all([page.waitForURL(/127\.0\.0\.1:\d+\/callback/), page.click('button[type="submit"]')]);
        await context.close();
      };

      it("discovers the upstream through the metadata, registers there, signs in through Chromium and calls whoami", async () => {
        const provider = new BrowserProvider(callback.redirectUrl, signInUpstream("upstream-alice"));
        const redirected = callback.next();
        const first = new StreamableHTTPClientTransport(new URL(mcp()), { authProvider: provider });
        await expect(new Client({ name: "portcullis-e2e", version: "1.0.0" }).connect(first)).rejects.toThrow(/Unauthorized/i);
        const params = await redirected;
        expect(params.get("iss")).toBe(idp.issuer);
        await first.finishAuth(params.get("code")!);
        const token = provider.saved!.access_token;
        // The upstream's JWT, for this resource.
        expect(JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString())).toMatchObject({ iss: idp.issuer, aud: mcp(), sub: "upstream-alice" });

        const client = new Client({ name: "portcullis-e2e", version: "1.0.0" });
        await client.connect(new StreamableHTTPClientTransport(new URL(mcp()), { authProvider: provider }));
        const result = await client.callTool({ name: "whoami", arguments: {} });
        expect(result.structuredContent).toMatchObject({ subject: "upstream-alice", clientId: provider.info!.client_id, scopes: ["mcp:tools"] });
        await client.close();
      });
    });
  });
}
