import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { DemoInMemoryAuthProvider } from "@modelcontextprotocol/sdk/examples/server/demoInMemoryOAuthProvider.js";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import { getOAuthProtectedResourceMetadataUrl, mcpAuthRouter } from "@modelcontextprotocol/sdk/server/auth/router.js";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { runChecks } from "../src/check.js";
import { createFileStore } from "../src/file-store.js";
import { createOAuthClientProvider } from "../src/provider.js";
import { runCli, sessionFile, startCli, tempHome } from "./cli-helpers.js";

/**
 * An MCP server whose authorization is the MCP SDK's own (`mcpAuthRouter` with the SDK's demo
 * provider, which approves every authorization at once): the client must sign in to servers it
 * was not written with.
 */
describe("portcullis against a server on the MCP SDK's own auth (mcpAuthRouter)", () => {
  let server: Server;
  let origin = "";
  const mcpUrl = () => `${origin}/mcp`;

  beforeAll(async () => {
    const app = express();
    const provider = new DemoInMemoryAuthProvider();
    server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    app.use(mcpAuthRouter({ provider, issuerUrl: new URL(origin), resourceServerUrl: new URL(mcpUrl()), scopesSupported: ["mcp:tools"] }));
    app.post("/mcp", requireBearerAuth({ verifier: provider, resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(new URL(mcpUrl())) }), (req, res) => {
      res.json({ jsonrpc: "2.0", id: 1, result: { clientId: req.auth?.clientId, scopes: req.auth?.scopes } });
    });
  });
  afterAll(async () => {
    await new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    });
  });

  it("login signs in (the demo provider approves at once), and token works as a bearer on /mcp", async () => {
    const home = tempHome();
    const run = startCli(["login", mcpUrl(), "--no-open"], { PORTCULLIS_HOME: home });
    const url = new URL(await run.firstLine);
    expect(url.searchParams.get("resource")).toBe(mcpUrl());
    // The "browser": follow the authorization server's redirect to the loopback callback.
    const page = await fetch(url);
    expect(page.status).toBe(200);
    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    expect(sessionFile(home).read().issuer).toBe(`${origin}/`);

    const token = await runCli(["token", mcpUrl()], { PORTCULLIS_HOME: home });
    expect(token.code, token.stderr).toBe(0);
    const call = await fetch(mcpUrl(), {
      method: "POST",
      headers: { Authorization: `Bearer ${token.stdout.trim()}`, "Content-Type": "application/json" },
      body: "{}",
    });
    expect(call.status).toBe(200);
    expect(((await call.json()) as { result: { scopes: string[] } }).result.scopes).toEqual(["mcp:tools"]);
  });

  it("check judges it by the specs: discovery and PKCE pass, no RFC 9207 is a warning, a 500 for a bogus code a failure", async () => {
    const report = await runChecks(mcpUrl());
    const status = Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
    expect(status).toMatchObject({
      "www-authenticate": "pass",
      "protected-resource-metadata": "pass",
      "authorization-server-metadata": "pass",
      issuer: "pass",
      "pkce-s256": "pass",
      "client-registration-support": "pass",
      "iss-parameter": "warn",
      "dynamic-registration": "pass",
      "redirect-uri": "pass",
      // The demo provider throws a plain Error for an unknown code, which the SDK answers 500.
      "token-error": "fail",
    });
    expect(report.checks.find((c) => c.id === "token-error")!.message).toMatch(/500/);
  });

  it("the SDK transport with createOAuthClientProvider and no stored sign-in fails telling the user to run portcullis login", async () => {
    const provider = createOAuthClientProvider(mcpUrl(), { store: createFileStore({ home: tempHome() }) });
    const client = new Client({ name: "t", version: "1" });
    await expect(client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl()), { authProvider: provider }))).rejects.toThrow(/portcullis login/);
  });
});
