import express, { type ErrorRequestHandler } from "express";
import { oauthRouter, requireBearerAuth } from "@portcullis/express";
import { type createDemoAuth, createExampleAuth, type DemoConfig } from "@portcullis/example-shared";
import { handleNodeMcpRequest } from "@portcullis/example-shared/node";
import type { Storage } from "@portcullis/core";

/**
 * The demo app: Portcullis and an MCP server at /mcp, on one origin. With AUTH_MODE=resource-server
 * there is no authorization server: the guard alone, accepting the upstream issuer's tokens.
 */
export function createApp(config: DemoConfig, storage: Storage, runtime: Parameters<typeof createDemoAuth>[2] = {}) {
  const { server, guard } = createExampleAuth(config, storage, runtime);
  const app = express();
  // Portcullis first: its endpoints read the raw request (so a malformed form gets the core's own
  // 400), and the guard checks the token before anyone reads a body (an upload without a token is
  // answered 401 unread). With `mcp` scopes the guard reads the JSON-RPC body itself, at most 1 MB,
  // and leaves it parsed on req.body. The app's parsers come after, for its own routes.
  app.use(server ? oauthRouter(server, guard) : oauthRouter(guard));
  app.all("/mcp", requireBearerAuth(guard), (req, res) => handleNodeMcpRequest(req, res, req.body));
  app.use(express.json(), express.urlencoded());
  app.get("/", (_req, res) => {
    res.type("text/plain").send(`Portcullis demo. MCP server at ${config.publicUrl}/mcp\n`);
  });
  // The app's own errors (a body parser refusing malformed JSON, say): a clean JSON answer, never
  // Express's default page, which shows a stack trace outside production.
  const onError: ErrorRequestHandler = (error: { status?: number; statusCode?: number }, _req, res, next) => {
    if (res.headersSent) return next(error);
    const status = error.status ?? error.statusCode ?? 500;
    res
      .status(status)
      .set("Cache-Control", "no-store")
      .json({ error: status < 500 ? "invalid_request" : "server_error" });
  };
  app.use(onError);
  return app;
}
