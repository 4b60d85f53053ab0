import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import fc from "fast-check";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, it } from "vitest";
import { budget, checkOverSocket, fuzzInput, fuzzTimeout, knownHoles, type PropertyContext } from "../../core/test/security/fuzz/harness.js";
import { createFuzzTarget, REACHED_APP, REACHED_MCP } from "../../core/test/security/fuzz/target.js";
import { bearerAuth, oauthRoutes } from "../src/index.js";

// Hono on @hono/node-server over a real socket: Portcullis, a guarded /mcp, the app's own routes.
let http: Server;
let port: number;
let context: PropertyContext;
let validToken: string;

beforeAll(async () => {
  http = createServer();
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  port = (http.address() as AddressInfo).port;
  const t = createFuzzTarget(`http://127.0.0.1:${port}`);
  const app = new Hono();
  app.use(oauthRoutes(t.server, t.guard));
  app.all("/mcp", bearerAuth(t.guard), (c) => c.json(REACHED_MCP));
  app.all("*", (c) => c.json(REACHED_APP));
  // Unlogged, still a 500: a client that stopped sending mid-body raises here, and nobody reads it.
  app.onError((_error, c) => c.json({ error: "server_error" }, 500));
  http.on("request", getRequestListener(app.fetch));
  validToken = await t.mint();
  context = t.context(validToken);
});
afterAll(() => new Promise<void>((resolve) => http.close(() => resolve())));

describe("Property: every endpoint through Hono on a socket keeps its promises (issue 13)", () => {
  it.each(knownHoles("TOKEN"))("%s", async (_title, input) => {
    const withToken = { ...input, headers: input.headers.map(([n, v]): [string, string] => [n, v.replace("TOKEN", validToken)]) };
    await checkOverSocket(port, context, withToken);
  });

  it("answers hostile requests without a 5xx, an unguarded pass, a token, a code or an open redirect", async () => {
    await fc.assert(
      fc.asyncProperty(fuzzInput({ host: `127.0.0.1:${port}`, validToken }), (input) => checkOverSocket(port, context, input)),
      budget("hono", 150),
    );
  }, fuzzTimeout());
});
