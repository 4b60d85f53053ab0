import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { describeSocketProperties } from "../../core/test/security/fuzz/harness.js";
import { createFuzzTarget, REACHED_APP, REACHED_MCP } from "../../core/test/security/fuzz/target.js";
import { bearerAuth, oauthRoutes } from "../src/index.js";

// Hono on @hono/node-server over a real socket: Portcullis, a guarded /mcp, the app's own routes.
describeSocketProperties(
  "Hono on a socket",
  async () => {
    const http = createServer();
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const port = (http.address() as AddressInfo).port;
    const t = createFuzzTarget(`http://127.0.0.1:${port}`);
    const app = new Hono();
    app.use(oauthRoutes(t.server, t.guard));
    app.all("/mcp", bearerAuth(t.guard), (c) => c.json(REACHED_MCP));
    app.all("*", (c) => c.json(REACHED_APP));
    // Unlogged, still a 500: a client that stopped sending mid-body raises here, and nobody reads it.
    app.onError((_error, c) => c.json({ error: "server_error" }, 500));
    http.on("request", getRequestListener(app.fetch));
    const validToken = await t.mint();
    return { port, validToken, context: t.context(validToken), close: () => new Promise<void>((resolve) => http.close(() => resolve())) };
  },
  { name: "hono", runs: 150 },
);
