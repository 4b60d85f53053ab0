import type { IncomingMessage, ServerResponse } from "node:http";
import { toNodeListener, withBearerAuth } from "@portcullis/node";
import { type createDemoAuth, createExampleAuth, type DemoConfig } from "@portcullis/example-shared";
import { handleNodeMcpRequest } from "@portcullis/example-shared/node";
import type { Storage } from "@portcullis/core";

const notFound = async () => new Response("Not found\n", { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } });

/**
 * The demo listener: Portcullis and an MCP server at /mcp, on one origin, for `http.createServer`.
 * With AUTH_MODE=resource-server there is no authorization server: the guard alone.
 */
export function createListener(config: DemoConfig, storage: Storage, runtime: Parameters<typeof createDemoAuth>[2] = {}) {
  const { server, guard } = createExampleAuth(config, storage, runtime);
  const mcp = withBearerAuth(guard, (req, res) => handleNodeMcpRequest(req, res, req.body));
  // The app's own routes: whatever Portcullis does not serve comes here.
  const app = (req: IncomingMessage, res: ServerResponse) => {
    const { pathname } = new URL(req.url ?? "/", config.publicUrl);
    if (pathname === "/mcp") return mcp(req, res);
    if (pathname === "/" && req.method === "GET") {
      return res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" }).end(`Portcullis demo. MCP server at ${config.publicUrl}/mcp\n`);
    }
    return res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("Not found\n");
  };
  if (server) return toNodeListener(server, guard, app);
  // The guard serves its metadata; every other path goes to the app (which answers 404 itself).
  return toNodeListener({ handle: (request) => guard.handle(request), owns: (path) => guard.owns(path), fetch: notFound }, app);
}
