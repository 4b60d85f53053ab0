import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, it } from "vitest";
import { budget, checkOverSocket, fuzzInput, fuzzTimeout, knownHoles, type PropertyContext } from "../../core/test/security/fuzz/harness.js";
import { createFuzzTarget, REACHED_APP, REACHED_MCP } from "../../core/test/security/fuzz/target.js";
import { toNodeListener, withBearerAuth } from "../src/index.js";

// node:http on a real socket: Portcullis through toNodeListener, a guarded /mcp, the app's own paths.
let http: Server;
let port: number;
let context: PropertyContext;
let validToken: string;

beforeAll(async () => {
  http = createServer();
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  port = (http.address() as AddressInfo).port;
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
  validToken = await t.mint();
  context = t.context(validToken);
});
afterAll(() => new Promise<void>((resolve) => http.close(() => resolve())));

describe("Property: every endpoint through node:http on a socket keeps its promises (issue 13)", () => {
  it.each(knownHoles("TOKEN"))("%s", async (_title, input) => {
    const withToken = { ...input, headers: input.headers.map(([n, v]): [string, string] => [n, v.replace("TOKEN", validToken)]) };
    await checkOverSocket(port, context, withToken);
  });

  it("answers hostile requests without a 5xx, an unguarded pass, a token, a code or an open redirect", async () => {
    await fc.assert(
      fc.asyncProperty(fuzzInput({ host: `127.0.0.1:${port}`, validToken }), (input) => checkOverSocket(port, context, input)),
      budget("node", 150),
    );
  }, fuzzTimeout());
});
