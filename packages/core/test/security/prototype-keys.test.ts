import { describe, expect, it } from "vitest";
import { Params } from "../../src/http/body.js";
import {
  authorizationUrl,
  basic,
  createTestServer,
  expectErrorPage,
  expectErrorRedirect,
  expectTokenError,
  form,
  ISSUER,
  tokenRequest,
  type Fetch,
} from "../helpers.js";

/** Names every plain object answers through its prototype. */
const PROTO_KEYS = ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf", "isPrototypeOf"];

function register(fetch: Fetch, body: Record<string, unknown> | string) {
  return fetch(`${ISSUER}/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

describe("User-supplied names are looked up as own keys, never through a prototype", () => {
  it("audit #4: /authorize with scope=toString (and every prototype name) is an invalid_scope redirect, not a 500", async () => {
    const t = createTestServer();
    for (const key of PROTO_KEYS) {
      const { url } = await authorizationUrl({ scope: `mcp:tools ${key}` });
      expectErrorRedirect(await t.fetch(url), "invalid_scope", { state: "st-1" });
      const alone = await authorizationUrl({ scope: key });
      expectErrorRedirect(await t.fetch(alone.url), "invalid_scope");
    }
  });

  it('audit #4: registration with scope="mcp:tools constructor" (and every prototype name) is refused', async () => {
    const t = createTestServer();
    for (const key of PROTO_KEYS) {
      const response = await register(t.fetch, { redirect_uris: ["https://app.test/cb"], scope: `mcp:tools ${key}` });
      await expectTokenError(response, "invalid_client_metadata");
    }
  });

  it("audit #4: a client_credentials request for scope=toString (and every prototype name) is invalid_scope", async () => {
    const secret = "machine-secret-0123456789";
    const t = createTestServer({ machineScopes: ["mcp:tools"], clients: [{ client_id: "cron", client_secret: secret, grant_types: ["client_credentials"] }] });
    for (const key of PROTO_KEYS) {
      const response = await t.fetch(`${ISSUER}/token`, form({ grant_type: "client_credentials", scope: key }, { Authorization: basic("cron", secret) }));
      await expectTokenError(response, "invalid_scope");
    }
  });

  it("audit #4: a form or query parameter named constructor, __proto__ or toString still has the per-parameter length limit", async () => {
    const long = "x".repeat(5000);
    for (const key of PROTO_KEYS) {
      expect(() => new Params(`${encodeURIComponent(key)}=${long}`), key).toThrow(/parameter too long/);
    }
    // The longer limits stay where they belong.
    expect(new Params(`client_assertion=${long}`).get("client_assertion")).toBe(long);
    const t = createTestServer();
    for (const key of PROTO_KEYS) {
      const body = await expectTokenError(await tokenRequest(t.fetch, { grant_type: "authorization_code", [key]: long }), "invalid_request");
      expect(body.error_description).toMatch(/parameter too long/);
    }
  });

  it("audit #4: client ids named after prototype members are unknown clients everywhere", async () => {
    const t = createTestServer();
    for (const key of PROTO_KEYS) {
      const { url } = await authorizationUrl({ client_id: key });
      await expectErrorPage(await t.fetch(url));
      await expectTokenError(
        await tokenRequest(t.fetch, { grant_type: "authorization_code", client_id: key, code: "c", code_verifier: "v".repeat(43) }),
        "invalid_client",
        401,
      );
      await expectTokenError(
        await tokenRequest(t.fetch, { grant_type: "client_credentials" }, { Authorization: basic(key, "secret-secret-secret") }),
        "invalid_client",
        401,
      );
      const management = await t.fetch(`${ISSUER}/register/${encodeURIComponent(key)}`, { headers: { Authorization: "Bearer abc" } });
      expect(management.status).toBe(401);
    }
  });

  it("audit #4: grant types, response types and auth methods named after prototype members are refused", async () => {
    const t = createTestServer();
    for (const key of PROTO_KEYS) {
      await expectTokenError(await tokenRequest(t.fetch, { grant_type: key, client_id: "pub" }), "unsupported_grant_type");
      const { url } = await authorizationUrl({ response_type: key });
      expectErrorRedirect(await t.fetch(url), "unsupported_response_type");
      const base = { redirect_uris: ["https://app.test/cb"] };
      await expectTokenError(await register(t.fetch, { ...base, grant_types: ["authorization_code", key] }), "invalid_client_metadata");
      await expectTokenError(await register(t.fetch, { ...base, response_types: ["code", key] }), "invalid_client_metadata");
      await expectTokenError(await register(t.fetch, { ...base, token_endpoint_auth_method: key }), "invalid_client_metadata");
      await expectTokenError(await register(t.fetch, { ...base, application_type: key }), "invalid_client_metadata");
    }
  });

  it("audit #4: a registration body with an own __proto__ member changes nothing it should not", async () => {
    const t = createTestServer();
    const response = await register(
      t.fetch,
      '{"redirect_uris":["https://app.test/cb"],"__proto__":{"grant_types":["client_credentials"],"scope":"mcp:tools files:write","token_endpoint_auth_method":"none"}}',
    );
    expect(response.status).toBe(201);
    const client = (await response.json()) as Record<string, unknown>;
    expect(client.grant_types).toEqual(["authorization_code"]);
    expect(client.scope).toBeUndefined();
    expect(client.token_endpoint_auth_method).toBe("client_secret_basic");
    expect(Object.getPrototypeOf(client)).toBe(Object.prototype);
  });
});
