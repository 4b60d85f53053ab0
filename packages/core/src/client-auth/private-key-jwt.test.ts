import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createTestServer, form, ISSUER, RESOURCE } from "../../test/helpers.js";
import { connectionRecorder } from "../../test/listener.js";

const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

async function machineClient(extra: Record<string, unknown> = {}) {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
  const t = createTestServer({
    clients: [
      {
        client_id: "machine",
        grant_types: ["client_credentials"],
        token_endpoint_auth_method: "private_key_jwt",
        jwks: { keys: [jwk] },
        scope: "mcp:tools files:read",
        ...extra,
      },
    ],
  });
  const assertion = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: "machine", sub: "machine", aud: ISSUER, iat: now, exp: now + 120, jti: crypto.randomUUID(), ...claims };
    return new SignJWT(payload).setProtectedHeader({ alg: "ES256", kid: "k1", ...header }).sign(privateKey);
  };
  const token = (assertionJwt: string, body: Record<string, string> = {}) =>
    t.fetch(`${ISSUER}/token`, form({ grant_type: "client_credentials", client_assertion_type: JWT_BEARER, client_assertion: assertionJwt, ...body }));
  return { t, assertion, token, privateKey };
}

describe("private_key_jwt client authentication (RFC 7523 §3, AS-TOKEN-13)", () => {
  it("issues a token to a client that signs with its registered key, with no refresh token (client_credentials)", async () => {
    const { t, assertion, token } = await machineClient();
    const response = await token(await assertion(), { scope: "mcp:tools" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.refresh_token).toBeUndefined();
    expect(body.scope).toBe("mcp:tools");
    const auth = await t.guard.authenticate(new Request(RESOURCE, { headers: { Authorization: `Bearer ${body.access_token}` } }));
    expect(auth).toMatchObject({ clientId: "machine", extra: { sub: "machine" } });
  });

  it("refuses a replayed jti", async () => {
    const { assertion, token } = await machineClient();
    const jwt = await assertion();
    expect((await token(jwt)).status).toBe(200);
    const replay = await token(jwt);
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error: string }).error).toBe("invalid_client");
  });

  it.each([
    ["an audience of the token endpoint rather than the issuer (B25, strict)", { aud: `${ISSUER}/token` }],
    ["an expired assertion", { exp: Math.floor(Date.now() / 1000) - 3600 }],
    ["a lifetime over ten minutes", { exp: Math.floor(Date.now() / 1000) + 3600 }],
    ["another issuer", { iss: "someone-else", sub: "machine" }],
  ])("refuses %s", async (_, claims) => {
    const { assertion, token } = await machineClient();
    const response = await token(await assertion(claims));
    expect(response.status).toBe(401);
  });

  it("refuses alg none, an unknown kid and a key that is not the client's (B24)", async () => {
    const { token, assertion } = await machineClient();
    const header = btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "");
    const payload = btoa(JSON.stringify({ iss: "machine", sub: "machine", aud: ISSUER, exp: Math.floor(Date.now() / 1000) + 60, jti: "x" })).replace(/=+$/, "");
    expect((await token(`${header}.${payload}.`)).status).toBe(401);
    expect((await token(await assertion({}, { kid: "unknown" }))).status).toBe(401);
    const other = await generateKeyPair("ES256");
    const forged = await new SignJWT({ jti: "y" })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer("machine")
      .setSubject("machine")
      .setAudience(ISSUER)
      .setExpirationTime("1m")
      .sign(other.privateKey);
    expect((await token(forged)).status).toBe(401);
  });

  it("refuses an assertion together with a client_secret, and a wrong assertion type (AS-TOKEN-11)", async () => {
    const { t, assertion } = await machineClient();
    const both = await t.fetch(
      `${ISSUER}/token`,
      form({
        grant_type: "client_credentials",
        client_assertion_type: JWT_BEARER,
        client_assertion: await assertion(),
        client_id: "machine",
        client_secret: "x",
      }),
    );
    expect(((await both.json()) as { error: string }).error).toBe("invalid_request");
    const wrongType = await t.fetch(
      `${ISSUER}/token`,
      form({ grant_type: "client_credentials", client_assertion_type: "urn:x", client_assertion: await assertion() }),
    );
    expect(((await wrongType.json()) as { error: string }).error).toBe("invalid_request");
  });

  it("refuses an HS256 assertion keyed with the client's public key (algorithm confusion, B24)", async () => {
    const { token } = await machineClient();
    const secret = new TextEncoder().encode(JSON.stringify({ kty: "EC" }));
    const hs = await new SignJWT({ jti: "z" })
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .setIssuer("machine")
      .setSubject("machine")
      .setAudience(ISSUER)
      .setExpirationTime("1m")
      .sign(secret);
    expect((await token(hs)).status).toBe(401);
  });
});

describe("client_credentials grant (OAuth 2.1 §4.2)", () => {
  it("refuses scopes beyond the client's registration and resources this server does not protect", async () => {
    const { assertion, token } = await machineClient();
    expect(((await (await token(await assertion(), { scope: "files:write" })).json()) as { error: string }).error).toBe("invalid_scope");
    expect(((await (await token(await assertion(), { resource: "https://other.test/mcp" })).json()) as { error: string }).error).toBe("invalid_target");
  });

  it("refuses a public client (B27)", async () => {
    const t = createTestServer();
    const response = await t.fetch(`${ISSUER}/token`, form({ grant_type: "client_credentials", client_id: "pub" }));
    expect(((await response.json()) as { error: string }).error).toBe("unauthorized_client");
  });

  it("registers a confidential machine client with no redirect URIs through the operator's initial access token, and refuses a public one (RFC 7591)", async () => {
    const iat = "operator-initial-access-token-0123";
    const t = createTestServer({ dynamicRegistration: { initialAccessToken: iat, allowMachineClients: true } });
    const ok = await t.fetch(`${ISSUER}/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${iat}` },
      body: JSON.stringify({ grant_types: ["client_credentials"], token_endpoint_auth_method: "client_secret_basic", client_name: "cron" }),
    });
    expect(ok.status).toBe(201);
    const client = (await ok.json()) as { client_id: string; client_secret: string; response_types: string[] };
    expect(client.response_types).toEqual([]);
    const issued = await t.fetch(
      `${ISSUER}/token`,
      form({ grant_type: "client_credentials" }, { Authorization: `Basic ${btoa(`${client.client_id}:${client.client_secret}`)}` }),
    );
    expect(issued.status).toBe(200);
    const publicOne = await t.fetch(`${ISSUER}/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${iat}` },
      body: JSON.stringify({ grant_types: ["client_credentials"], token_endpoint_auth_method: "none" }),
    });
    expect(publicOne.status).toBe(400);
  });
});

describe("jwks_uri fetches go through the outbound policy", () => {
  afterEach(() => vi.unstubAllGlobals());

  /** A private_key_jwt client whose keys live at `jwksUri`, on a server with `options`. */
  async function jwksUriClient(jwksUri: string, options: Record<string, unknown> = {}) {
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
    const t = createTestServer({
      clients: [
        { client_id: "machine", grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", jwks_uri: jwksUri, scope: "mcp:tools" },
      ],
      ...options,
    });
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ iss: "machine", sub: "machine", aud: ISSUER, iat: now, exp: now + 120, jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .sign(privateKey);
    const token = () => t.fetch(`${ISSUER}/token`, form({ grant_type: "client_credentials", client_assertion_type: JWT_BEARER, client_assertion: assertion }));
    return { t, token, keySet: { keys: [jwk] } };
  }

  /** An outbound fetch stand-in that records every URL it is asked for. */
  function recordingFetch(respond: () => Response = () => new Response("{}", { status: 404 })) {
    const urls: string[] = [];
    const fetch = async (request: Request) => {
      urls.push(request.url);
      return respond();
    };
    return { urls, fetch };
  }

  it("fetches the key set of a jwks_uri on a public host and issues a token", async () => {
    let keySet: unknown;
    const outbound = recordingFetch(() => Response.json(keySet));
    const { token, keySet: keys } = await jwksUriClient("https://keys.example.com/jwks.json", {
      outbound: { fetch: outbound.fetch, resolveHost: async () => ["93.184.216.34"] },
    });
    keySet = keys;
    expect((await token()).status).toBe(200);
    expect(outbound.urls).toEqual(["https://keys.example.com/jwks.json"]);
  });

  it("still fetches a jwks_uri when only metadata documents are turned off (clientMetadataDocuments.enabled: false)", async () => {
    let keySet: unknown;
    const outbound = recordingFetch(() => Response.json(keySet));
    const { token, keySet: keys } = await jwksUriClient("https://keys.example.com/jwks.json", {
      clientMetadataDocuments: { enabled: false, fetch: outbound.fetch, resolveHost: async () => ["93.184.216.34"] },
    });
    keySet = keys;
    expect((await token()).status).toBe(200);
  });

  it("audit #5: a jwks_uri on https://localhost is refused with no connection made", async () => {
    const listener = await connectionRecorder();
    try {
      const { token } = await jwksUriClient(`https://localhost:${listener.port}/jwks.json`);
      const response = await token();
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: string }).error).toBe("invalid_client");
      expect(listener.connections).toBe(0);
    } finally {
      await listener.close();
    }
  });

  it.each([
    ["a loopback literal", "https://127.0.0.1/jwks.json"],
    ["an IPv4-mapped metadata address", "https://[::ffff:169.254.169.254]/jwks.json"],
    ["the cloud metadata host", "https://metadata.google.internal/computeMetadata/v1/"],
    ["a .local host", "https://printer.local/jwks.json"],
    ["a single-label host", "https://intranet/jwks.json"],
  ])("audit #5: a jwks_uri on %s is refused without a fetch", async (_, uri) => {
    // The policy given where the old options lived, which the jwks_uri fetch has always used for its transport.
    const outbound = recordingFetch();
    const { token } = await jwksUriClient(uri, { clientMetadataDocuments: { fetch: outbound.fetch } });
    expect((await token()).status).toBe(401);
    expect(outbound.urls).toEqual([]);
  });

  it("audit #5: a jwks_uri whose host resolves to a private address is refused without a fetch", async () => {
    const outbound = recordingFetch();
    const { token } = await jwksUriClient("https://keys.example.com/jwks.json", {
      outbound: { fetch: outbound.fetch, resolveHost: async () => ["93.184.216.34", "10.0.0.7"] },
    });
    expect((await token()).status).toBe(401);
    expect(outbound.urls).toEqual([]);
  });

  it.each([
    ["outbound.allowedFetchHosts", { outbound: { allowedFetchHosts: ["*.trusted.example"] } }],
    ["outbound.deniedFetchHosts", { outbound: { deniedFetchHosts: ["keys.example.com"] } }],
    ["outbound.allowedHosts (the older name)", { outbound: { allowedHosts: ["*.trusted.example"] } }],
    ["clientMetadataDocuments.allowedFetchHosts", { clientMetadataDocuments: { allowedFetchHosts: ["*.trusted.example"] } }],
    ["clientMetadataDocuments.deniedFetchHosts", { clientMetadataDocuments: { deniedFetchHosts: ["*.example.com"] } }],
    ["a deny list matched through a trailing dot", { outbound: { deniedFetchHosts: ["keys.example.com"] } }, "https://keys.example.com./jwks.json"],
    ["outbound.enabled: false (the older off switch)", { outbound: { enabled: false } }],
  ])("audit #5: %s applies to jwks_uri: refused without a fetch", async (_, policy, uri = "https://keys.example.com/jwks.json") => {
    const outbound = recordingFetch(() => Response.json({ keys: [] }));
    const global = vi.fn(async () => Response.json({ keys: [] }));
    vi.stubGlobal("fetch", global);
    const [key] = Object.keys(policy) as ("outbound" | "clientMetadataDocuments")[];
    const withFetch = { [key!]: { ...(policy as Record<string, object>)[key!], fetch: outbound.fetch, resolveHost: async () => ["93.184.216.34"] } };
    const { token } = await jwksUriClient(uri, withFetch);
    const response = await token();
    expect(response.status).toBe(401);
    expect(outbound.urls).toEqual([]);
    expect(global).not.toHaveBeenCalled();
  });
});
