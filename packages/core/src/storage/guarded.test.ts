import { describe, expect, it } from "vitest";
import { createAuthorizationServer, createMemoryStore, createResourceGuard, type Storage } from "../index.js";

/** A store that works until `down` is set, then fails every call like an unreachable server. */
function flakyStore() {
  const inner = createMemoryStore();
  const state = { down: false };
  const store = Object.fromEntries(
    (["get", "set", "setIfAbsent", "delete", "consume", "increment", "list"] as const).map((m) => [
      m,
      async (...args: unknown[]) => {
        if (state.down) throw new Error("connect ECONNREFUSED 127.0.0.1:6379");
        return (inner[m] as (...a: unknown[]) => Promise<unknown>)(...args);
      },
    ]),
  ) as unknown as Storage;
  return { store, state };
}

function setup(grantCacheSeconds = 0) {
  const { store, state } = flakyStore();
  const errors: unknown[] = [];
  const server = createAuthorizationServer({
    issuer: "https://as.test",
    resource: "https://mcp.test/mcp",
    scopes: { "mcp:tools": "tools" },
    storage: store,
    interactionUrl: "/login",
    grantCacheSeconds,
    clients: [{ client_id: "pub", redirect_uris: ["http://127.0.0.1/cb"], grant_types: ["authorization_code"] }],
    onError: (error) => errors.push(error),
  });
  const guard = createResourceGuard({
    resource: "https://mcp.test/mcp",
    authorizationServers: ["https://as.test"],
    verifier: server,
    onError: (error) => errors.push(error),
  });
  return { server, guard, state, errors };
}

describe("Unreachable storage (issue 5: never a hang, never a stack trace)", () => {
  it("answers the token endpoint with 503 server_error, Retry-After and no-store, and reports to onError", async () => {
    const { server, state, errors } = setup();
    state.down = true;
    const response = await server.fetch(
      new Request("https://as.test/token", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "grant_type=refresh_token&refresh_token=abc&client_id=someone",
      }),
    );
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBe("5");
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    const body = (await response.json()) as { error: string; error_description: string };
    expect(body.error).toBe("server_error");
    expect(JSON.stringify(body)).not.toContain("ECONNREFUSED");
    expect(errors).toHaveLength(1);
  });

  it("shows the authorization endpoint's failure as a 503 page, not a redirect", async () => {
    const { server, state } = setup();
    state.down = true;
    const response = await server.fetch(new Request("https://as.test/authorize?client_id=x&response_type=code"));
    expect(response.status).toBe(503);
    expect(response.headers.get("Location")).toBeNull();
    expect(response.headers.get("Content-Type")).toContain("text/html");
  });

  it("makes the resource guard answer 503 for a valid token it cannot check, rather than fail open or throw", async () => {
    const { server, guard, state, errors } = setup();
    const verifier = "v".repeat(43);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const challenge = btoa(String.fromCharCode(...digest))
      .replaceAll("+", "-")
      .replaceAll("/", "_")
      .replace(/=+$/, "");
    const authorize = await server.fetch(
      new Request(`https://as.test/authorize?response_type=code&client_id=pub&code_challenge=${challenge}&code_challenge_method=S256`),
    );
    const requestId = new URL(authorize.headers.get("Location")!).searchParams.get("request_id")!;
    const done = await server.completeAuthorization(requestId, { subject: "alice" });
    const code = new URL(done.headers.get("Location")!).searchParams.get("code")!;
    const tokens = (await (
      await server.fetch(
        new Request("https://as.test/token", {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: "pub" }),
        }),
      )
    ).json()) as { access_token: string };
    const request = () => new Request("https://mcp.test/mcp", { headers: { Authorization: `Bearer ${tokens.access_token}` } });
    expect(await guard.authenticate(request())).not.toBeInstanceOf(Response);
    state.down = true;
    const result = await guard.authenticate(request());
    expect(result).toBeInstanceOf(Response);
    expect((result as Response).status).toBe(503);
    expect((result as Response).headers.get("Retry-After")).toBe("5");
    expect(errors.length).toBeGreaterThan(0);
  });
});
