import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describeSocketProperties } from "../../core/test/security/fuzz/harness.js";
import { createFuzzTarget, REACHED_APP, REACHED_MCP } from "../../core/test/security/fuzz/target.js";
import { toNodeListener, withBearerAuth } from "../src/index.js";

// node:http on a real socket: Portcullis through toNodeListener, a guarded /mcp, the app's own paths.
describeSocketProperties(
  "node:http on a socket",
  async () => {
    const http = createServer();
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const port = (http.address() as AddressInfo).port;
    const origin = `http://127.0.0.1:${port}`;
    const t = createFuzzTarget(origin);
    const json = (res: ServerResponse, body: unknown) => res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(body));
    const mcp = withBearerAuth(t.guard, (_req, res) => json(res, REACHED_MCP));
    const app = (req: IncomingMessage, res: ServerResponse) => {
      let pathname = "";
      try {
        pathname = new URL(req.url ?? "/", origin).pathname;
      } catch {
        // not a path the app knows
      }
      return pathname === "/mcp" ? mcp(req, res) : json(res, REACHED_APP);
    };
    http.on("request", toNodeListener(t.server, t.guard, app));
    const validToken = await t.mint();
    return { port, validToken, context: t.context(validToken), close: () => new Promise<void>((resolve) => http.close(() => resolve())) };
  },
  { name: "node", runs: 150 },
);
