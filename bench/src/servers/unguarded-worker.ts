/**
 * A module Worker, not a Node script: the unguarded side of the Worker ratio (`worker-bare`).
 * servers/worker.ts bundles it with the Cloudflare Worker example's own build settings and serves
 * it in workerd. It does the example's MCP work (the demo MCP server answering one request
 * statelessly, as the example's `fetch` does once the guard let it through) with no Portcullis in
 * front: no authorization server endpoints, no metadata route, no bearer check. The benchmark
 * only posts to /mcp, so every path is the MCP endpoint.
 */
import type { AuthInfo } from "@portcullis/core";
import { handleMcpRequest } from "@portcullis/example-shared";

// What the guard would hand over; tools/list reads none of it.
const AUTH: AuthInfo = { token: "unguarded", clientId: "bench", scopes: ["mcp:tools"] };

export default {
  fetch(request: Request): Promise<Response> {
    return handleMcpRequest(request, AUTH);
  },
};
