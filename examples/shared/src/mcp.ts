import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { AuthInfo } from "@portcullis/core";

/** The demo MCP server: one tool, `whoami`, that reports what the access token says. */
export function createMcpServer(): McpServer {
  const mcp = new McpServer({ name: "portcullis-demo", version: "0.1.0" });
  mcp.registerTool(
    "whoami",
    { title: "Who am I", description: "Returns the signed-in user, the client and the granted scopes." },
    async (extra) => {
      const auth = extra.authInfo;
      const result = {
        username: auth?.extra?.preferred_username ?? auth?.extra?.sub,
        subject: auth?.extra?.sub,
        clientId: auth?.clientId,
        scopes: auth?.scopes ?? [],
      };
      return { content: [{ type: "text", text: JSON.stringify(result) }], structuredContent: result };
    },
  );
  return mcp;
}

/**
 * Serves one MCP request statelessly (a fresh server and transport per request, the SDK's
 * stateless pattern), handing the verified `AuthInfo` to the tools.
 */
export async function handleMcpRequest(request: Request, authInfo: AuthInfo): Promise<Response> {
  const mcp = createMcpServer();
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await mcp.connect(transport);
  try {
    return await transport.handleRequest(request, { authInfo });
  } finally {
    void mcp.close();
  }
}
