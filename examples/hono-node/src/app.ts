import { Hono } from "hono";
import { bearerAuth, oauthRoutes } from "@portcullis/hono";
import { createDemoAuth, handleMcpRequest, type DemoConfig } from "@portcullis/example-shared";
import type { Storage } from "@portcullis/core";

/** The demo app: Portcullis and an MCP server at /mcp, on one origin. */
export function createApp(config: DemoConfig, storage: Storage, runtime: Parameters<typeof createDemoAuth>[2] = {}) {
  const { server, guard } = createDemoAuth(config, storage, runtime);
  const app = new Hono();
  app.use(oauthRoutes(server, guard));
  app.all("/mcp", bearerAuth(guard), (c) => handleMcpRequest(c.req.raw, c.get("auth")));
  app.get("/", (c) => c.text(`Portcullis demo. MCP server at ${config.publicUrl}/mcp\n`));
  return app;
}
