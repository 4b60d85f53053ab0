import { Hono } from "hono";
import { bearerAuth, oauthRoutes } from "@portcullis/hono";
import { type createDemoAuth, createExampleAuth, handleMcpRequest, type DemoConfig } from "@portcullis/example-shared";
import type { Storage } from "@portcullis/core";

/**
 * The demo app: Portcullis and an MCP server at /mcp, on one origin. With AUTH_MODE=resource-server
 * there is no authorization server: the guard alone, accepting the upstream issuer's tokens.
 */
export function createApp(config: DemoConfig, storage: Storage, runtime: Parameters<typeof createDemoAuth>[2] = {}) {
  const { server, guard } = createExampleAuth(config, storage, runtime);
  const app = new Hono();
  app.use(server ? oauthRoutes(server, guard) : oauthRoutes(guard));
  app.all("/mcp", bearerAuth(guard), (c) => handleMcpRequest(c.req.raw, c.get("auth")));
  app.get("/", (c) => c.text(`Portcullis demo. MCP server at ${config.publicUrl}/mcp\n`));
  return app;
}
