import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type ErrorRequestHandler } from "express";
import { describeSocketProperties } from "../../core/test/security/fuzz/harness.js";
import { createFuzzTarget, REACHED_APP, REACHED_MCP } from "../../core/test/security/fuzz/target.js";
import { oauthRouter, requireBearerAuth } from "../src/index.js";

/**
 * Express on a real socket: Portcullis through `oauthRouter`, a guarded /mcp, the app's own
 * routes, and (with `parsersFirst`) express.json() and express.urlencoded() mounted before
 * the router, as many apps do. The app's error handler answers a body parser's refusal as JSON.
 */
async function start(parsersFirst: boolean) {
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = (http.address() as AddressInfo).port;
  const t = createFuzzTarget(`http://127.0.0.1:${port}`);
  const app = express();
  if (parsersFirst) app.use(express.json(), express.urlencoded());
  app.use(oauthRouter(t.server, t.guard));
  app.all("/mcp", requireBearerAuth(t.guard), (_req, res) => {
    res.json(REACHED_MCP);
  });
  app.use((_req, res) => {
    res.json(REACHED_APP);
  });
  const onError: ErrorRequestHandler = (error: { status?: number }, _req, res, _next) => {
    const status = typeof error.status === "number" ? error.status : 500;
    res
      .status(status)
      .set("Cache-Control", "no-store")
      .json({ error: status < 500 ? "invalid_request" : "server_error" });
  };
  app.use(onError);
  http.on("request", app);
  const validToken = await t.mint();
  return { port, validToken, context: t.context(validToken), close: () => new Promise<void>((resolve) => http.close(() => resolve())) };
}

for (const parsersFirst of [true, false]) {
  describeSocketProperties(`Express ${parsersFirst ? "after express.json()" : "without a body parser"} on a socket`, () => start(parsersFirst), {
    name: `express${parsersFirst ? " after express.json()" : ""}`,
    runs: 100,
  });
}
