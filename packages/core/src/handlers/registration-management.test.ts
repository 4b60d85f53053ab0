import { describe, expect, it } from "vitest";
import { createMemoryStore } from "../index.js";
import { createTestServer, ISSUER, obtainTokens } from "../../test/helpers.js";

const json = (body: unknown, headers: Record<string, string> = {}, method = "POST"): RequestInit => ({
  method,
  headers: { "Content-Type": "application/json", ...headers },
  body: JSON.stringify(body),
});
const NATIVE = {
  redirect_uris: ["http://127.0.0.1/cb"],
  token_endpoint_auth_method: "none",
  grant_types: ["authorization_code", "refresh_token"],
  client_name: "n",
};

describe("Client registration policy (RFC 7591, MCP 2026-07-28 client registration)", () => {
  it("infers application_type from the redirect URIs when a client leaves it out, and enforces it when given (AS-DCR-5)", async () => {
    const t = createTestServer();
    const inferred = (await (await t.fetch(`${ISSUER}/register`, json(NATIVE))).json()) as { application_type: string };
    expect(inferred.application_type).toBe("native");
    const web = await t.fetch(`${ISSUER}/register`, json({ ...NATIVE, application_type: "web" }));
    expect(web.status).toBe(400);
    expect(((await web.json()) as { error: string }).error).toBe("invalid_redirect_uri");
    const native = await t.fetch(`${ISSUER}/register`, json({ ...NATIVE, application_type: "native" }));
    expect(native.status).toBe(201);
    const webHttps = (await (await t.fetch(`${ISSUER}/register`, json({ ...NATIVE, redirect_uris: ["https://app.test/cb"] }))).json()) as {
      application_type: string;
    };
    expect(webHttps.application_type).toBe("web");
    const customScheme = await t.fetch(`${ISSUER}/register`, json({ ...NATIVE, redirect_uris: ["com.example.app:/cb"], application_type: "web" }));
    expect(customScheme.status).toBe(400);
  });

  it("needs the initial access token when registration is closed (AS-DCR-8)", async () => {
    const t = createTestServer({ dynamicRegistration: { initialAccessToken: "initial-access-token-0123456789" } });
    const none = await t.fetch(`${ISSUER}/register`, json(NATIVE));
    expect(none.status).toBe(401);
    expect(none.headers.get("WWW-Authenticate")).toContain('error="invalid_token"');
    expect((await t.fetch(`${ISSUER}/register`, json(NATIVE, { Authorization: "Bearer wrong-token" }))).status).toBe(401);
    expect((await t.fetch(`${ISSUER}/register`, json(NATIVE, { Authorization: "Bearer initial-access-token-0123456789" }))).status).toBe(201);
  });

  it("has no registration endpoint when registration is off (AS-MD-9)", async () => {
    const t = createTestServer({ dynamicRegistration: false });
    expect(t.server.metadata().registration_endpoint).toBeUndefined();
    expect((await t.fetch(`${ISSUER}/register`, json(NATIVE))).status).toBe(404);
  });

  it("forgets a registration that is never used, and keeps one that is", async () => {
    let now = Date.now();
    const storage = createMemoryStore({ now: () => now });
    const t = createTestServer({ storage, now: () => now, dynamicRegistration: { unusedClientTtlSeconds: 60 } });
    const idle = (await (await t.fetch(`${ISSUER}/register`, json(NATIVE))).json()) as { client_id: string };
    const used = (await (await t.fetch(`${ISSUER}/register`, json(NATIVE))).json()) as { client_id: string };
    const tokens = await obtainTokens(t.fetch, { redirect_uri: "http://127.0.0.1/cb" }, used.client_id);
    expect(tokens.response.status).toBe(200);
    now += 61_000;
    expect(await storage.get(`client:${idle.client_id}`)).toBeUndefined();
    expect(await storage.get(`client:${used.client_id}`)).toBeDefined();
  });
});

describe("Client configuration endpoint (RFC 7592)", () => {
  async function registered() {
    const t = createTestServer();
    const body = (await (await t.fetch(`${ISSUER}/register`, json(NATIVE))).json()) as Record<string, string>;
    return { t, body, auth: { Authorization: `Bearer ${body.registration_access_token}` } };
  }

  it("returns a registration access token and the client's configuration URI", async () => {
    const { body } = await registered();
    expect(body.registration_access_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(body.registration_client_uri).toBe(`${ISSUER}/register/${body.client_id}`);
  });

  it("reads the registration with its token, and answers 401 to any other token or client", async () => {
    const { t, body, auth } = await registered();
    const read = await t.fetch(body.registration_client_uri!, { headers: auth });
    expect(read.status).toBe(200);
    expect(read.headers.get("Cache-Control")).toBe("no-store");
    expect(((await read.json()) as { client_name: string }).client_name).toBe("n");
    expect((await t.fetch(body.registration_client_uri!, { headers: { Authorization: "Bearer nope" } })).status).toBe(401);
    expect((await t.fetch(`${ISSUER}/register/someone-else`, { headers: auth })).status).toBe(401);
    expect((await t.fetch(body.registration_client_uri!)).status).toBe(401);
  });

  it("replaces the metadata with PUT, keeping the client id, and validates it like registration", async () => {
    const { t, body, auth } = await registered();
    const updated = await t.fetch(body.registration_client_uri!, json({ ...NATIVE, client_id: body.client_id, client_name: "renamed" }, auth, "PUT"));
    expect(updated.status).toBe(200);
    expect(((await updated.json()) as { client_name: string; client_id: string }).client_id).toBe(body.client_id);
    const bad = await t.fetch(
      body.registration_client_uri!,
      json({ ...NATIVE, client_id: body.client_id, redirect_uris: ["javascript:alert(1)"] }, auth, "PUT"),
    );
    expect(((await bad.json()) as { error: string }).error).toBe("invalid_redirect_uri");
    const wrongId = await t.fetch(body.registration_client_uri!, json({ ...NATIVE, client_id: "other" }, auth, "PUT"));
    expect(wrongId.status).toBe(400);
  });

  it("deletes the client and revokes every grant it holds", async () => {
    const t = createTestServer();
    const body = (await (await t.fetch(`${ISSUER}/register`, json(NATIVE))).json()) as Record<string, string>;
    const { body: tokens } = await obtainTokens(t.fetch, { redirect_uri: "http://127.0.0.1/cb" }, body.client_id!);
    const check = () => t.guard.authenticate(new Request("https://mcp.test/mcp", { headers: { Authorization: `Bearer ${tokens.access_token}` } }));
    expect(await check()).not.toBeInstanceOf(Response);
    const deleted = await t.fetch(body.registration_client_uri!, { method: "DELETE", headers: { Authorization: `Bearer ${body.registration_access_token}` } });
    expect(deleted.status).toBe(204);
    expect((await check()) as Response).toBeInstanceOf(Response);
    const refresh = await t.fetch(`${ISSUER}/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: tokens.refresh_token!, client_id: body.client_id! }),
    });
    expect(refresh.status).toBe(401);
  });
});
