import { describe, expect, it } from "vitest";
import { sha256 } from "../lib/crypto.js";
import { createMemoryStore } from "../storage/memory.js";
import {
  authorizationUrl,
  basic,
  CONF_SECRET,
  createClockedServer,
  createTestServer,
  decodeJWT,
  expectTokenError,
  ISSUER,
  obtainCode,
  obtainTokens,
  redirectOf,
  resourceRequest,
  RESOURCE,
  signIn,
  TEST_CLIENTS,
  tokenRequest,
} from "../../test/helpers.js";

const TOKEN = `${ISSUER}/token`;

/** A code for `pub` and the body that redeems it. */
async function codeExchange(t: ReturnType<typeof createTestServer>, params: Record<string, string | undefined> = {}) {
  const { code, verifier, challenge } = await obtainCode(t.fetch, params);
  return { code, verifier, challenge, body: { grant_type: "authorization_code", code, code_verifier: verifier, client_id: "pub" } };
}

describe("Token endpoint: request format (OAuth 2.1 §3.2)", () => {
  it("answers GET with 405 (AS-TOKEN-1)", async () => {
    const t = createTestServer();
    const response = await t.fetch(TOKEN);
    expect(response.status).toBe(405);
    expect(response.headers.get("Allow")).toBe("POST");
  });

  it("refuses a JSON body or a body without Content-Type with invalid_request (AS-TOKEN-1, B17)", async () => {
    const t = createTestServer();
    const { body } = await codeExchange(t);
    await expectTokenError(
      await t.fetch(TOKEN, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }),
      "invalid_request",
    );
    await expectTokenError(await t.fetch(TOKEN, { method: "POST", body: new Blob([new URLSearchParams(body).toString()]) }), "invalid_request");
  });

  it("refuses a repeated code with invalid_request (B18)", async () => {
    const t = createTestServer();
    const { body, code } = await codeExchange(t);
    const raw = `${new URLSearchParams(body)}&code=${code}`;
    await expectTokenError(
      await t.fetch(TOKEN, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: raw }),
      "invalid_request",
    );
  });

  it("answers unsupported_grant_type for unknown, password and implicit grants, invalid_request when missing (AS-TOKEN-7)", async () => {
    const t = createTestServer();
    for (const grant of ["urn:x", "password", "implicit"]) {
      await expectTokenError(await tokenRequest(t.fetch, { grant_type: grant, client_id: "pub" }), "unsupported_grant_type");
    }
    await expectTokenError(await tokenRequest(t.fetch, { client_id: "pub" }), "invalid_request");
    // Supported, but not for a client that did not register it.
    await expectTokenError(await tokenRequest(t.fetch, { grant_type: "client_credentials", client_id: "pub" }), "unauthorized_client");
  });

  it("keeps error_description to the RFC character set, never echoing raw input with quotes (AS-TOKEN-8, X-ERR-2)", async () => {
    const t = createTestServer();
    const raw = `client_id=pub&grant_type=x&${encodeURIComponent('a"b\\c\n\u00e9')}=1&${encodeURIComponent('a"b\\c\n\u00e9')}=2`;
    const body = await expectTokenError(
      await t.fetch(TOKEN, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: raw }),
      "invalid_request",
    );
    expect(body.error_description).toMatch(/^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/);
    expect(Object.keys(body).sort()).toEqual(["error", "error_description"]);
  });
});

describe("Token endpoint: authorization code grant (OAuth 2.1 §4.1.3)", () => {
  it("answers 200 JSON with no-store, a Bearer access token, expires_in, scope and a refresh token (AS-TOKEN-2)", async () => {
    const t = createTestServer();
    const { response, body } = await obtainTokens(t.fetch);
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(body.token_type?.toLowerCase()).toBe("bearer");
    expect(body.access_token).toBeTypeOf("string");
    expect(body.expires_in).toBe(3600);
    expect(body.scope).toBe("mcp:tools");
    expect(body.refresh_token).toBeTypeOf("string");
  });

  it("issues a token whose audience is the authorized resource, also when /token omits resource (AS-TOKEN-6)", async () => {
    const t = createTestServer();
    for (const resource of [RESOURCE, undefined]) {
      const { body } = await codeExchange(t);
      const response = await tokenRequest(t.fetch, { ...body, ...(resource ? { resource } : {}) });
      expect(response.status).toBe(200);
      const { access_token } = (await response.json()) as { access_token: string };
      expect(decodeJWT(access_token).payload.aud).toBe(RESOURCE);
    }
  });

  it("refuses a resource other than the authorized one with invalid_target (AS-TOKEN-6)", async () => {
    const t = createTestServer();
    const { body } = await codeExchange(t);
    await expectTokenError(await tokenRequest(t.fetch, { ...body, resource: "https://other.test" }), "invalid_target");
  });

  it("refuses a second resource, which would widen the audience, with invalid_target (B28)", async () => {
    const t = createTestServer();
    const { body } = await codeExchange(t);
    const raw = `${new URLSearchParams({ ...body, resource: RESOURCE })}&resource=${encodeURIComponent("https://other.test")}`;
    await expectTokenError(
      await t.fetch(TOKEN, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: raw }),
      "invalid_target",
    );
  });

  it("refuses a wrong verifier with invalid_grant and a missing one with invalid_request (AS-TOKEN-3)", async () => {
    const t = createTestServer();
    const { body } = await codeExchange(t);
    await expectTokenError(await tokenRequest(t.fetch, { ...body, code_verifier: "x".repeat(43) }), "invalid_grant");
    const { code_verifier: _, ...withoutVerifier } = body;
    await expectTokenError(await tokenRequest(t.fetch, withoutVerifier), "invalid_request");
  });

  it("refuses the code challenge itself replayed as the verifier (B19)", async () => {
    const t = createTestServer();
    const { body, challenge } = await codeExchange(t);
    await expectTokenError(await tokenRequest(t.fetch, { ...body, code_verifier: challenge }), "invalid_grant");
  });

  it("refuses a verifier of 42 or 129 characters, or with +, / or a space, with a 400, never 500 (AS-TOKEN-5)", async () => {
    const t = createTestServer();
    const { body } = await codeExchange(t);
    for (const verifier of ["a".repeat(42), "a".repeat(129), `${"a".repeat(42)}+`, `${"a".repeat(42)}/`, `${"a".repeat(21)} ${"a".repeat(21)}`]) {
      await expectTokenError(await tokenRequest(t.fetch, { ...body, code_verifier: verifier }), "invalid_grant");
    }
  });

  it("does not burn the code on a failed verifier: the right verifier then succeeds (B20, AS-CODE-4)", async () => {
    const t = createTestServer();
    const { body } = await codeExchange(t);
    await expectTokenError(await tokenRequest(t.fetch, { ...body, code_verifier: "y".repeat(43) }), "invalid_grant");
    expect((await tokenRequest(t.fetch, body)).status).toBe(200);
  });

  it("is single-use: the identical second redemption is invalid_grant (AS-CODE-2)", async () => {
    const t = createTestServer();
    const { body } = await codeExchange(t);
    expect((await tokenRequest(t.fetch, body)).status).toBe(200);
    await expectTokenError(await tokenRequest(t.fetch, body), "invalid_grant");
  });

  it("revokes what the first redemption issued when the code is validly replayed (AS-CODE-3)", async () => {
    const t = createTestServer();
    const { body } = await codeExchange(t);
    const first = (await (await tokenRequest(t.fetch, body)).json()) as Record<string, string>;
    expect(await t.guard.authenticate(resourceRequest(first.access_token))).not.toBeInstanceOf(Response);
    await expectTokenError(await tokenRequest(t.fetch, body), "invalid_grant");
    expect(((await t.guard.authenticate(resourceRequest(first.access_token))) as Response).status).toBe(401);
    await expectTokenError(
      await tokenRequest(t.fetch, { grant_type: "refresh_token", refresh_token: first.refresh_token!, client_id: "pub" }),
      "invalid_grant",
    );
    expect(t.events).toContainEqual(expect.objectContaining({ type: "replay.detected", kind: "code" }));
  });

  it("does not revoke anything on an invalid replay (wrong verifier or client) of a used code (AS-CODE-4)", async () => {
    const t = createTestServer();
    const { body } = await codeExchange(t);
    const first = (await (await tokenRequest(t.fetch, body)).json()) as Record<string, string>;
    await expectTokenError(await tokenRequest(t.fetch, { ...body, code_verifier: "z".repeat(43) }), "invalid_grant");
    await expectTokenError(await tokenRequest(t.fetch, { ...body, client_id: "pub2" }), "invalid_grant");
    expect(await t.guard.authenticate(resourceRequest(first.access_token))).not.toBeInstanceOf(Response);
  });

  it("binds the code to its client: pub's code redeemed by pub2 is invalid_grant (AS-CODE-5)", async () => {
    const t = createTestServer();
    const { body } = await codeExchange(t);
    await expectTokenError(await tokenRequest(t.fetch, { ...body, client_id: "pub2" }), "invalid_grant");
    expect((await tokenRequest(t.fetch, body)).status).toBe(200);
  });

  it("checks redirect_uri when sent: a different value is invalid_grant, the same value or none is accepted (AS-CODE-6)", async () => {
    const t = createTestServer();
    const { body } = await codeExchange(t, { redirect_uri: "http://127.0.0.1:5000/cb" });
    await expectTokenError(await tokenRequest(t.fetch, { ...body, redirect_uri: "http://127.0.0.1/cb" }), "invalid_grant");
    expect((await tokenRequest(t.fetch, { ...body, redirect_uri: "http://127.0.0.1:5000/cb" })).status).toBe(200);
    const other = await codeExchange(t);
    expect((await tokenRequest(t.fetch, other.body)).status).toBe(200);
  });

  it("expires the code after authorizationCodeTtlSeconds by the injected clock (AS-CODE-1)", async () => {
    const t = createClockedServer();
    const late = await codeExchange(t);
    const inTime = await codeExchange(t);
    t.clock.advance(59);
    expect((await tokenRequest(t.fetch, inTime.body)).status).toBe(200);
    t.clock.advance(2);
    await expectTokenError(await tokenRequest(t.fetch, late.body), "invalid_grant");
  });

  it("expires the code at the longest allowed TTL of 600 s (AS-CODE-1)", async () => {
    const t = createClockedServer({ authorizationCodeTtlSeconds: 600 });
    const { body } = await codeExchange(t);
    t.clock.advance(601);
    await expectTokenError(await tokenRequest(t.fetch, body), "invalid_grant");
  });

  it("issues opaque, high-entropy codes that never contain the challenge, all distinct (AS-CODE-7)", async () => {
    const t = createTestServer({ interactionUrl: "/login", login: undefined });
    const { url, challenge } = await authorizationUrl({});
    const hexChallenge = Array.from(atob(challenge.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
    const codes = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const requestId = new URL((await t.fetch(url)).headers.get("Location")!).searchParams.get("request_id")!;
      const code = redirectOf(await t.server.completeAuthorization(requestId, { subject: "bob" })).params.get("code")!;
      expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(code).not.toContain(challenge.slice(0, 16));
      expect(code.toLowerCase()).not.toContain(hexChallenge.slice(0, 16));
      codes.add(code);
    }
    expect(codes.size).toBe(1000);
  });

  it("answers one of two concurrent redemptions with 200 and the other with invalid_grant (B21)", async () => {
    const t = createTestServer();
    const { body } = await codeExchange(t);
    const responses = await Promise.all([tokenRequest(t.fetch, body), tokenRequest(t.fetch, body)]);
    expect(responses.map((r) => r.status).sort()).toEqual([200, 400]);
    await expectTokenError(responses.find((r) => r.status === 400)!, "invalid_grant");
  });

  it("refuses an unknown or oversized code with invalid_grant, and one past the parameter limit with invalid_request", async () => {
    const t = createTestServer();
    const { body } = await codeExchange(t);
    await expectTokenError(await tokenRequest(t.fetch, { ...body, code: "nope" }), "invalid_grant");
    await expectTokenError(await tokenRequest(t.fetch, { ...body, code: "c".repeat(600) }), "invalid_grant");
    await expectTokenError(await tokenRequest(t.fetch, { ...body, code: "c".repeat(10_000) }), "invalid_request");
  });

  it("refuses any verifier for a code seeded without a challenge (invalid_grant: such a code cannot verify) (AS-TOKEN-4)", async () => {
    const storage = createMemoryStore();
    const t = createTestServer({ storage });
    const code = "seeded-code-without-challenge-0000000000000";
    const hash = await sha256(code);
    const record = {
      clientId: "pub",
      redirectUri: "http://127.0.0.1/cb",
      codeChallenge: "",
      scopes: ["mcp:tools"],
      resource: RESOURCE,
      subject: "alice",
      grantId: "g1",
    };
    await storage.set(`code:${hash}`, record, { ttlSeconds: 60 });
    await storage.set(`code-live:${hash}`, 1, { ttlSeconds: 60 });
    await expectTokenError(
      await tokenRequest(t.fetch, { grant_type: "authorization_code", code, code_verifier: "v".repeat(43), client_id: "pub" }),
      "invalid_grant",
    );
    // The same seeded record with a real challenge redeems, so the refusal is about the missing challenge.
    const { verifier, challenge } = await authorizationUrl({});
    await storage.set(`code:${hash}`, { ...record, codeChallenge: challenge }, { ttlSeconds: 60 });
    expect((await tokenRequest(t.fetch, { grant_type: "authorization_code", code, code_verifier: verifier, client_id: "pub" })).status).toBe(200);
  });

  it("answers a CORS preflight and carries ACAO * on success and error, without credentials (X-CORS-2)", async () => {
    const t = createTestServer();
    const preflight = await t.fetch(TOKEN, {
      method: "OPTIONS",
      headers: { Origin: "https://app.test", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(preflight.headers.get("Access-Control-Allow-Headers")?.toLowerCase()).toContain("content-type");
    const { body } = await codeExchange(t);
    for (const fields of [body, { ...body, code: "nope" }]) {
      const response = await tokenRequest(t.fetch, fields, { Origin: "https://app.test" });
      expect(response.headers.get("Access-Control-Allow-Origin")).toBe("*");
      expect(response.headers.get("Access-Control-Allow-Credentials")).toBeNull();
    }
  });

  it("ignores a scope parameter on the code exchange: the token carries the consented scope (AS-TOKEN-15)", async () => {
    const t = createTestServer();
    const { body } = await codeExchange(t);
    const response = await tokenRequest(t.fetch, { ...body, scope: "mcp:tools files:write" });
    expect(((await response.json()) as { scope: string }).scope).toBe("mcp:tools");
  });
});

describe("Token endpoint: client authentication (OAuth 2.1 §2.4, §3.2.1)", () => {
  const withPost = [
    ...TEST_CLIENTS,
    { client_id: "post", client_secret: CONF_SECRET, token_endpoint_auth_method: "client_secret_post" as const, redirect_uris: ["https://app.test/cb"] },
  ];

  async function confCode(t: ReturnType<typeof createTestServer>, clientId = "conf") {
    const { url, verifier } = await authorizationUrl({ client_id: clientId, redirect_uri: "https://app.test/cb" });
    const code = redirectOf(await signIn(t.fetch, url)).params.get("code")!;
    return { grant_type: "authorization_code", code, code_verifier: verifier };
  }

  it("accepts client_secret_basic and client_secret_post for clients registered with them (AS-TOKEN-9)", async () => {
    const t = createTestServer({ clients: withPost });
    expect((await tokenRequest(t.fetch, await confCode(t), { Authorization: basic("conf", CONF_SECRET) })).status).toBe(200);
    expect((await tokenRequest(t.fetch, { ...(await confCode(t, "post")), client_id: "post", client_secret: CONF_SECRET })).status).toBe(200);
  });

  it("answers a wrong Basic secret with 401 invalid_client and WWW-Authenticate: Basic (AS-TOKEN-10)", async () => {
    const t = createTestServer();
    const response = await tokenRequest(t.fetch, await confCode(t), { Authorization: basic("conf", "wrong-wrong-wrong-wrong") });
    expect(response.headers.get("WWW-Authenticate")).toMatch(/^Basic realm=/);
    await expectTokenError(response, "invalid_client", 401);
  });

  it("answers a wrong client_secret_post secret with invalid_client and no Basic challenge (AS-TOKEN-10)", async () => {
    const t = createTestServer({ clients: withPost });
    const response = await tokenRequest(t.fetch, { ...(await confCode(t, "post")), client_id: "post", client_secret: "wrong" });
    expect(response.headers.get("WWW-Authenticate")).toBeNull();
    await expectTokenError(response, "invalid_client", 401);
  });

  it("refuses two authentication methods at once with invalid_request (AS-TOKEN-11, B23)", async () => {
    const t = createTestServer();
    const response = await tokenRequest(
      t.fetch,
      { ...(await confCode(t)), client_id: "conf", client_secret: CONF_SECRET },
      { Authorization: basic("conf", CONF_SECRET) },
    );
    await expectTokenError(response, "invalid_request");
  });

  it("refuses a confidential client that does not authenticate, or uses another method than registered (AS-TOKEN-12)", async () => {
    const t = createTestServer({ clients: withPost });
    const body = await confCode(t);
    await expectTokenError(await tokenRequest(t.fetch, { ...body, client_id: "conf" }), "invalid_client", 401);
    await expectTokenError(await tokenRequest(t.fetch, { ...body, client_id: "conf", client_secret: CONF_SECRET }), "invalid_client", 401);
    await expectTokenError(
      await tokenRequest(t.fetch, { ...(await confCode(t, "post")) }, { Authorization: basic("post", CONF_SECRET) }),
      "invalid_client",
      401,
    );
    // None of the failures burnt the code.
    expect((await tokenRequest(t.fetch, body, { Authorization: basic("conf", CONF_SECRET) })).status).toBe(200);
  });

  it("refuses a public client posing as confidential with a secret (AS-TOKEN-12)", async () => {
    const t = createTestServer();
    const { body } = await codeExchange(t);
    await expectTokenError(await tokenRequest(t.fetch, { ...body, client_secret: "anything" }), "invalid_client", 401);
  });

  it.each([
    ["empty id and secret", "Basic Og=="],
    ["invalid base64", "Basic !!!not-base64!!!"],
    ["no colon", `Basic ${btoa("conf")}`],
    ["a 10 KB header", `Basic ${"QUFB".repeat(2560)}`],
    ["no credentials", "Basic"],
  ])("answers a malformed Basic header (%s) with 401 invalid_client and a Basic challenge (B22)", async (_, header) => {
    const t = createTestServer();
    const response = await tokenRequest(t.fetch, { grant_type: "authorization_code", code: "x", code_verifier: "a".repeat(43) }, { Authorization: header });
    expect(response.headers.get("WWW-Authenticate")).toMatch(/^Basic /);
    await expectTokenError(response, "invalid_client", 401);
  });

  it("answers the same invalid_client for an unknown client as for a wrong secret (no existence oracle)", async () => {
    const t = createTestServer();
    const unknown = await tokenRequest(
      t.fetch,
      { grant_type: "authorization_code", code: "x", code_verifier: "a".repeat(43) },
      { Authorization: basic("ghost", "x") },
    );
    const wrong = await tokenRequest(
      t.fetch,
      { grant_type: "authorization_code", code: "x", code_verifier: "a".repeat(43) },
      { Authorization: basic("conf", "x") },
    );
    expect(unknown.status).toBe(wrong.status);
    expect(await unknown.json()).toEqual(await wrong.json());
  });

  it("accepts a Basic id and secret that were form-urlencoded before base64 (AS-TOKEN-9)", async () => {
    const secret = "p@ss:w+rd/with spaces%";
    const t = createTestServer({ clients: [...TEST_CLIENTS, { client_id: "odd:id", client_secret: secret, redirect_uris: ["https://app.test/cb"] }] });
    const response = await tokenRequest(t.fetch, await confCode(t, "odd:id"), { Authorization: basic("odd:id", secret) });
    expect(response.status).toBe(200);
  });
});
