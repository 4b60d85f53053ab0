import { describe, expect, it } from "vitest";
import { createMemoryStore } from "../storage/memory.js";
import { createClockedServer, createTestServer, form, ISSUER, obtainTokens } from "../../test/helpers.js";

/** A client as the MCP SDK's clients store keeps it (OAuthClientInformationFull). */
const sdkClient = (overrides: Record<string, unknown> = {}) => ({
  client_id: "0b5b2b5e-6a3c-4d3e-9a55-4f2b1d8c7e10",
  client_id_issued_at: 1_700_000_000,
  redirect_uris: ["http://127.0.0.1/cb"],
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
  token_endpoint_auth_method: "none",
  client_name: "Imported client",
  ...overrides,
});

const tokenWithBadCode = (clientId: string, extra: Record<string, string> = {}) =>
  form({
    grant_type: "authorization_code",
    code: "no-such-code",
    code_verifier: "v".repeat(43),
    redirect_uri: "https://app.test/cb",
    client_id: clientId,
    ...extra,
  });

describe("importClient: clients registered with another authorization server", () => {
  it("keeps a public client's id, so it signs in without registering again", async () => {
    const { server, fetch } = createTestServer();
    const result = await server.importClient(sdkClient());
    expect(result).toMatchObject({
      imported: true,
      client: { client_id: sdkClient().client_id, client_id_issued_at: 1_700_000_000, token_endpoint_auth_method: "none" },
    });
    const { response, body } = await obtainTokens(fetch, {}, sdkClient().client_id);
    expect(response.status).toBe(200);
    expect(body.access_token).toBeTypeOf("string");
  });

  it("keeps a confidential client's secret, stored only as its hash, and its auth method (client_secret_post when absent)", async () => {
    const storage = createMemoryStore();
    const { server, fetch } = createTestServer({ storage });
    const secret = "an-old-secret-from-the-sdk-store-0123456789";
    const { token_endpoint_auth_method: _none, ...withoutMethod } = sdkClient({
      client_id: "conf-old",
      redirect_uris: ["https://app.test/cb"],
      client_secret: secret,
      client_secret_expires_at: 0,
    });
    const result = await server.importClient(withoutMethod);
    expect(result).toMatchObject({ imported: true, client: { token_endpoint_auth_method: "client_secret_post", client_secret_expires_at: 0 } });
    expect(JSON.stringify(result)).not.toContain(secret);
    const stored = await storage.list("");
    expect(JSON.stringify(stored)).not.toContain(secret);
    // The right secret passes client authentication (the made-up code is then invalid_grant); a wrong one is invalid_client.
    const right = await fetch(`${ISSUER}/token`, tokenWithBadCode("conf-old", { client_secret: secret }));
    expect(((await right.json()) as { error: string }).error).toBe("invalid_grant");
    const wrong = await fetch(`${ISSUER}/token`, tokenWithBadCode("conf-old", { client_secret: "not-the-secret-at-all-0000" }));
    expect(wrong.status).toBe(401);
  });

  it("leaves an existing client unchanged, so an import can run again", async () => {
    const { server } = createTestServer();
    expect((await server.importClient(sdkClient())).imported).toBe(true);
    expect(await server.importClient(sdkClient({ client_name: "Changed", redirect_uris: ["http://127.0.0.1/other"] }))).toEqual({ imported: false });
  });

  it("ends the record when its secret expires, as the old server ended the client", async () => {
    const { server, fetch, clock } = createClockedServer();
    const now = Math.floor(clock.now() / 1000);
    const secret = "an-old-secret-from-the-sdk-store-0123456789";
    await expect(
      server.importClient(
        sdkClient({ client_id: "expired", client_secret: secret, token_endpoint_auth_method: "client_secret_post", client_secret_expires_at: now - 1 }),
      ),
    ).rejects.toThrow(/importClient expired: its client_secret has expired/);
    await server.importClient(
      sdkClient({
        client_id: "expiring",
        redirect_uris: ["https://app.test/cb"],
        client_secret: secret,
        token_endpoint_auth_method: "client_secret_post",
        client_secret_expires_at: now + 3600,
      }),
    );
    expect(((await (await fetch(`${ISSUER}/token`, tokenWithBadCode("expiring", { client_secret: secret }))).json()) as { error: string }).error).toBe(
      "invalid_grant",
    );
    clock.advance(3601);
    expect((await fetch(`${ISSUER}/token`, tokenWithBadCode("expiring", { client_secret: secret }))).status).toBe(401);
  });

  it("validates the metadata as a registration, and refuses ids that are URLs or configured clients", async () => {
    const { server } = createTestServer();
    await expect(server.importClient(sdkClient({ redirect_uris: ["javascript:alert(1)"] }))).rejects.toThrow(TypeError);
    await expect(server.importClient(sdkClient({ client_id: "https://client.example/metadata.json" }))).rejects.toThrow(/URL or a configured client/);
    await expect(server.importClient(sdkClient({ client_id: "pub" }))).rejects.toThrow(/URL or a configured client/);
    await expect(server.importClient(sdkClient({ client_id: "has space" }))).rejects.toThrow(/visible ASCII/);
    await expect(server.importClient(sdkClient({ token_endpoint_auth_method: "client_secret_basic" }))).rejects.toThrow(/needs its client_secret/);
  });

  it("gives the imported client no RFC 7592 management: PUT and DELETE on its configuration URL are refused", async () => {
    const { server, fetch } = createTestServer();
    await server.importClient(sdkClient());
    for (const method of ["PUT", "DELETE"]) {
      const response = await fetch(`${ISSUER}/register/${sdkClient().client_id}`, {
        method,
        headers: { Authorization: "Bearer guessed-registration-token-0000", "Content-Type": "application/json" },
        body: method === "PUT" ? JSON.stringify({ redirect_uris: ["http://127.0.0.1/cb"], token_endpoint_auth_method: "none" }) : undefined,
      });
      expect(response.status, method).toBe(401);
    }
  });
});
