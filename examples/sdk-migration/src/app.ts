import express, { type ErrorRequestHandler, type RequestHandler } from "express";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import { hostHeaderValidation } from "@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js";
import type { Storage } from "@portcullis/core";
import { oauthRouter } from "@portcullis/express";
import { toSdkVerifier } from "@portcullis/mcp-sdk";
import { createDemoAuth, type DemoConfig } from "@portcullis/example-shared";
import { handleNodeMcpRequest } from "@portcullis/example-shared/node";

/**
 * An MCP server built the MCP TypeScript SDK's way (its `McpServer`, its Streamable HTTP
 * transport, its `requireBearerAuth`), with Portcullis where `mcpAuthRouter` and the demo
 * provider were.
 */
export function createApp(config: DemoConfig, storage: Storage, runtime: Parameters<typeof createDemoAuth>[2] = {}) {
  // The authorization server (issuer PUBLIC_URL, the demo user's sign-in) and the guard that
  // serves the protected resource metadata of PUBLIC_URL/mcp.
  const { server, guard } = createDemoAuth(config, storage, runtime);
  const app = express();

  // Was: app.use(mcpAuthRouter({ provider, issuerUrl, resourceServerUrl, scopesSupported })).
  // The same paths: /authorize, /token, /register, /revoke and both well-known documents.
  app.use(oauthRouter(server, guard));

  // Was: requireBearerAuth({ verifier: provider, ... }). The SDK's middleware, unchanged, with
  // Portcullis verifying the token (signature, expiry, audience, revocation).
  const verifier = toSdkVerifier(server);
  const resourceMetadataUrl = guard.metadataUrl; // getOAuthProtectedResourceMetadataUrl(mcpServerUrl) gives the same
  const authenticated = requireBearerAuth({ verifier, requiredScopes: ["mcp:tools"], resourceMetadataUrl });
  // admin_echo needs mcp:admin on top: its calls get a second check, whose 403 names both scopes
  // so the client's step-up asks for them together.
  const admin = requireBearerAuth({ verifier, requiredScopes: ["mcp:tools", "mcp:admin"], resourceMetadataUrl });
  const adminCalls: RequestHandler = (req, res, next) => (callsTool(req.body, "admin_echo") ? admin(req, res, next) : next());

  app.all(
    "/mcp",
    // DNS rebinding: only the public host name, only the public origin from a browser.
    hostHeaderValidation([new URL(config.publicUrl).hostname]),
    sameOrigin(new URL(config.publicUrl).origin),
    // The token before the body: an upload without one is answered 401 unread.
    authenticated,
    // Then the JSON-RPC body, whatever its declared type, at most 1 MB (413 past it).
    express.json({ limit: "1mb", type: () => true }),
    adminCalls,
    (req, res) => handleNodeMcpRequest(req, res, req.body),
  );

  app.get("/", (_req, res) => {
    res.type("text/plain").send(`Portcullis demo (MCP SDK migration). MCP server at ${config.publicUrl}/mcp\n`);
  });
  // The app's own errors (a body too large or not JSON): a clean JSON answer, never Express's
  // default page, which shows a stack trace outside production.
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

/** Whether a JSON-RPC message or batch calls the tool `name`. */
function callsTool(body: unknown, name: string): boolean {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  return messages.some((message) => {
    if (typeof message !== "object" || message === null) return false;
    const { method, params } = message as { method?: unknown; params?: { name?: unknown } };
    return method === "tools/call" && typeof params === "object" && params !== null && params.name === name;
  });
}

/** Refuses a browser request from another origin (403); a request without `Origin` is not a browser's. */
function sameOrigin(origin: string): RequestHandler {
  return (req, res, next) => {
    const from = req.headers.origin;
    if (from === undefined || from === origin) return next();
    res.status(403).set("Cache-Control", "no-store").json({ error: "forbidden", error_description: "origin not allowed" });
  };
}
