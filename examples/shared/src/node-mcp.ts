import type { IncomingMessage, ServerResponse } from "node:http";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createMcpServer } from "./mcp.js";
import type { AuthInfo } from "@portcullis/core";

/**
 * Serves one MCP request on Node's `http` objects statelessly (a fresh server and transport per
 * request). The SDK's Node transport reads the verified `AuthInfo` from `req.auth`, where the
 * Portcullis adapter put it; `parsedBody` is for requests whose body was already read (a body
 * parser, or a guard with MCP-aware scopes).
 */
export async function handleNodeMcpRequest(req: IncomingMessage & { auth?: AuthInfo }, res: ServerResponse, parsedBody?: unknown): Promise<void> {
  const mcp = createMcpServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await mcp.connect(transport);
  try {
    await transport.handleRequest(req, res, parsedBody);
  } finally {
    void mcp.close();
  }
}
