import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { AuthInfo, UpstreamAccess } from "@portcullis/core";
import { z } from "zod";

/**
 * The demo MCP server: `whoami` reports what the access token says (scope `mcp:tools`);
 * `upstream_userinfo` returns the upstream identity provider's userinfo JSON (with `UPSTREAM_ISSUER`);
 * `admin_echo` echoes its `text` and needs `mcp:admin`, which is offered but only granted when
 * asked for: calling it with a plain token gets a 403 `insufficient_scope` step-up challenge.
 */
export function createMcpServer(): McpServer {
  const mcp = new McpServer({ name: "portcullis-demo", version: "0.1.0" });
  mcp.registerTool("whoami", { title: "Who am I", description: "Returns the signed-in user, the client and the granted scopes." }, async (extra) => {
    const auth = extra.authInfo;
    const result = {
      username: auth?.extra?.preferred_username ?? auth?.extra?.sub,
      subject: auth?.extra?.sub,
      ...(auth?.extra?.email !== undefined ? { email: auth.extra.email } : {}),
      clientId: auth?.clientId,
      scopes: auth?.scopes ?? [],
    };
    return { content: [{ type: "text", text: JSON.stringify(result) }], structuredContent: result };
  });
  mcp.registerTool(
    "upstream_userinfo",
    {
      title: "Upstream userinfo",
      description: "Returns what the upstream identity provider's userinfo endpoint says about the signed-in user (with UPSTREAM_ISSUER set).",
    },
    async (extra) => {
      const upstream = extra.authInfo?.extra?.upstream as UpstreamAccess | undefined;
      if (!upstream) return { isError: true, content: [{ type: "text", text: "this server does not sign users in through an upstream identity provider" }] };
      try {
        // Refreshes the upstream access token first when it has expired.
        return { content: [{ type: "text", text: JSON.stringify(await upstream.userinfo()) }] };
      } catch (error) {
        return { isError: true, content: [{ type: "text", text: `the identity provider did not answer: ${(error as Error).message}` }] };
      }
    },
  );
  mcp.registerTool(
    "admin_echo",
    { title: "Admin echo", description: "Echoes its text argument. Needs the mcp:admin scope.", inputSchema: { text: z.string().max(10_000) } },
    async ({ text }, extra) => {
      // The guard refuses the call before dispatch; this is the second line, should a route forget it.
      if (!extra.authInfo?.scopes.includes("mcp:admin")) {
        return { isError: true, content: [{ type: "text", text: "the mcp:admin scope is required" }] };
      }
      return { content: [{ type: "text", text }], structuredContent: { text } };
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
