import { describe, expect, it } from "vitest";
import { OAuthError } from "../errors.js";
import { rawHeaders } from "../http/raw-headers.js";
import type { TokenVerifier } from "../types.js";
import { createResourceGuard } from "./guard.js";

const RESOURCE = "https://mcp.test/mcp";
const LIMIT = 1024 * 1024;

/** Tokens by name: `weak` may use the tools, `admin` may also call admin_echo. */
const verifier: TokenVerifier = {
  async verifyAccessToken(token) {
    if (token === "weak") return { token, clientId: "c", scopes: ["mcp:tools"] };
    if (token === "admin") return { token, clientId: "c", scopes: ["mcp:tools", "mcp:admin"] };
    throw new OAuthError("invalid_token", "unknown token");
  },
};

const guardOf = (mcp: { methods?: Record<string, string[]>; tools?: Record<string, string[]> } = { tools: { admin_echo: ["mcp:admin"] } }) =>
  createResourceGuard({ resource: RESOURCE, authorizationServers: ["https://as.test"], verifier, requiredScopes: ["mcp:tools"], mcp, onError: () => {} });

const toolCall = (name: string, padding = 0) =>
  JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: {} }, pad: "x".repeat(padding) });

/** A Fetch request whose body is streamed in 64 KB chunks without Content-Length, counting what was pulled. */
function streamed(token: string | undefined, text: string) {
  const bytes = new TextEncoder().encode(text);
  const state = { pulled: 0 };
  // highWaterMark 0: nothing is pulled until someone reads.
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (state.pulled >= bytes.length) return controller.close();
        controller.enqueue(bytes.subarray(state.pulled, state.pulled + 65536));
        state.pulled += 65536;
      },
    },
    { highWaterMark: 0 },
  );
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const request = new Request(RESOURCE, { method: "POST", headers, body, duplex: "half" } as RequestInit);
  return { request, state };
}

const post = (token: string | undefined, body: string, headers: Record<string, string> = {}) =>
  new Request(RESOURCE, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
    body,
  });

async function expectError(result: unknown, status: number, error: string) {
  expect(result).toBeInstanceOf(Response);
  const response = result as Response;
  expect(response.status).toBe(status);
  expect(response.headers.get("Cache-Control")).toBe("no-store");
  expect(((await response.json()) as { error: string }).error).toBe(error);
}

describe("The guard's body read: never fail open, never buffer before authenticating", () => {
  it("audit #2: a tools/call padded past the body limit is refused with 413, never passed unchecked", async () => {
    const guard = guardOf();
    await expectError(await guard.authenticate(post("weak", toolCall("admin_echo", LIMIT + 100_000))), 413, "invalid_request");
  });

  it("audit #2: the same padded call streamed without Content-Length is refused with 413, and the read stops at the limit", async () => {
    const guard = guardOf();
    const { request, state } = streamed("weak", toolCall("admin_echo", 8 * LIMIT));
    await expectError(await guard.authenticate(request), 413, "invalid_request");
    expect(state.pulled).toBeLessThan(2 * LIMIT + 2 * 65536);
  });

  it("audit #2: a declared Content-Length over the limit is refused before any byte is read", async () => {
    const guard = guardOf();
    let called = false;
    const view = {
      method: "POST",
      url: RESOURCE,
      headers: rawHeaders(["Host", "mcp.test", "Authorization", "Bearer weak", "Content-Length", String(LIMIT + 1)]),
    };
    const result = await guard.authenticate(view, {
      body: async () => {
        called = true;
        return "{}";
      },
    });
    await expectError(result, 413, "invalid_request");
    expect(called).toBe(false);
  });

  it("audit #2: a body the guard cannot parse is refused with 400, never taken for 'no operation'", async () => {
    const guard = guardOf();
    for (const body of ["{not json", `${toolCall("admin_echo")}garbage`, ""]) {
      await expectError(await guard.authenticate(post("weak", body)), 400, "invalid_request");
    }
    const latin1 = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]);
    await expectError(
      await guard.authenticate(new Request(RESOURCE, { method: "POST", headers: { Authorization: "Bearer weak" }, body: latin1 })),
      400,
      "invalid_request",
    );
  });

  it("audit #2: an adapter's reader that says the body is over the limit gets 413", async () => {
    const guard = guardOf();
    const view = { method: "POST", url: RESOURCE, headers: rawHeaders(["Host", "mcp.test", "Authorization", "Bearer weak"]) };
    await expectError(await guard.authenticate(view, { body: async () => undefined }), 413, "invalid_request");
    await expectError(await guard.authenticate(view, { body: async (max) => new Uint8Array(max + 1) }), 413, "invalid_request");
  });

  it("audit #3: without a token, or with a bad one, the body is never read (401 from the headers alone)", async () => {
    const guard = guardOf();
    for (const token of [undefined, "bad-token"]) {
      const { request, state } = streamed(token, toolCall("admin_echo", 8 * LIMIT));
      const result = (await guard.authenticate(request)) as Response;
      expect(result.status).toBe(401);
      expect(state.pulled).toBe(0);
      let called = false;
      const headers = ["Host", "mcp.test", ...(token ? ["Authorization", `Bearer ${token}`] : [])];
      const viewResult = (await guard.authenticate(
        { method: "POST", url: RESOURCE, headers: rawHeaders(headers) },
        {
          body: async () => {
            called = true;
            return toolCall("whoami");
          },
        },
      )) as Response;
      expect(viewResult.status).toBe(401);
      expect(called).toBe(false);
    }
  });

  it("audit #3: the 401 challenge names the configured scopes, read from nothing but the headers", async () => {
    const guard = guardOf();
    const response = (await guard.authenticate(post(undefined, toolCall("admin_echo")))) as Response;
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toContain('scope="mcp:tools"');
  });

  it("reads the body once the token passed: 403 step-up for admin_echo, the AuthInfo for the admin token, the body left readable", async () => {
    const guard = guardOf();
    const forbidden = (await guard.authenticate(post("weak", toolCall("admin_echo")))) as Response;
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get("WWW-Authenticate")).toContain('scope="mcp:tools mcp:admin"');
    const request = post("admin", toolCall("admin_echo"));
    expect(await guard.authenticate(request)).toMatchObject({ clientId: "c" });
    expect(JSON.parse(await request.text()).params.name).toBe("admin_echo");
    // Without MCP-aware rules the body is not read at all.
    const plain = createResourceGuard({ resource: RESOURCE, authorizationServers: ["https://as.test"], verifier, requiredScopes: ["mcp:tools"] });
    const { request: unread, state } = streamed("weak", "{not json");
    expect(await plain.authenticate(unread)).toMatchObject({ clientId: "c" });
    expect(state.pulled).toBe(0);
  });

  it("takes a body a parser already made (parsedBody) and checks it the same way", async () => {
    const guard = guardOf();
    const view = { method: "POST", url: RESOURCE, headers: rawHeaders(["Host", "mcp.test", "Authorization", "Bearer weak"]) };
    expect(((await guard.authenticate(view, { parsedBody: JSON.parse(toolCall("admin_echo")) })) as Response).status).toBe(403);
    expect(await guard.authenticate(view, { parsedBody: JSON.parse(toolCall("whoami")) })).toMatchObject({ clientId: "c" });
  });

  it("answers a reader's OAuthError with its own status, and any other failure with 400, never a pass", async () => {
    const guard = guardOf();
    const view = { method: "POST", url: RESOURCE, headers: rawHeaders(["Host", "mcp.test", "Authorization", "Bearer weak"]) };
    await expectError(
      await guard.authenticate(view, {
        body: async () => {
          throw new OAuthError("invalid_request", "body consumed", { status: 400 });
        },
      }),
      400,
      "invalid_request",
    );
    await expectError(
      await guard.authenticate(view, {
        body: async () => {
          throw new Error("socket hang up");
        },
      }),
      400,
      "invalid_request",
    );
  });
});

describe("audit #4: user-supplied names never index a prototype in the guard", () => {
  const names = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"];

  it.each(names)("a tools/call named %j neither fails nor matches anything", async (name) => {
    const guard = guardOf({ tools: { admin_echo: ["mcp:admin"] }, methods: { "resources/read": ["mcp:admin"] } });
    expect(await guard.authenticate(post("weak", toolCall(name)))).toMatchObject({ clientId: "c" });
  });

  it.each(names)("a JSON-RPC method named %j neither fails nor matches anything", async (name) => {
    const guard = guardOf({ tools: { admin_echo: ["mcp:admin"] }, methods: { "resources/read": ["mcp:admin"] } });
    expect(await guard.authenticate(post("weak", JSON.stringify({ jsonrpc: "2.0", id: 1, method: name })))).toMatchObject({ clientId: "c" });
  });

  it("a scope hierarchy lookup never reads a prototype: a token scope named constructor implies nothing", async () => {
    const odd: TokenVerifier = { verifyAccessToken: async (token) => ({ token, clientId: "c", scopes: ["constructor", "__proto__", "toString"] }) };
    const guard = createResourceGuard({
      resource: RESOURCE,
      authorizationServers: ["https://as.test"],
      verifier: odd,
      requiredScopes: ["mcp:tools"],
      scopeHierarchy: { "mcp:admin": ["mcp:tools"] },
      mcp: { tools: { admin_echo: ["mcp:admin"] } },
    });
    expect(((await guard.authenticate(post("x", toolCall("whoami")))) as Response).status).toBe(403);
  });
});
