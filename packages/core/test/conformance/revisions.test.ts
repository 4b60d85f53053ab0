/**
 * Black-box conformance: a client of each MCP authorization revision, written from that
 * revision's discovery and registration rules, signs in against the deployment shapes
 * Portcullis supports. Each case runs for every revision it applies to.
 */
import { describe, expect, it } from "vitest";
import { createAuthorizationServer, createMemoryStore, createResourceGuard, type AuthorizationServerOptions } from "../../src/index.js";
import { cookiesOf, readConsentPage, USER } from "../helpers.js";

const REVISIONS = ["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"] as const;
type Revision = (typeof REVISIONS)[number];
const atLeast = (revision: Revision, first: Revision) => REVISIONS.indexOf(revision) >= REVISIONS.indexOf(first);

const MCP = "https://mcp.test/mcp";
const CIMD_URL = "https://client.test/oauth/client.json";
const REDIRECT = "http://127.0.0.1:33418/callback";

interface Deployment {
  name: string;
  issuer: string;
  /** Whether clients that look for the authorization server at the MCP origin root find it (2025-03-26). */
  rootDiscoverable: boolean;
  options?: Partial<AuthorizationServerOptions>;
}

const DEPLOYMENTS: Deployment[] = [
  { name: "authorization server at the MCP origin root", issuer: "https://mcp.test", rootDiscoverable: true },
  {
    name: "tenant issuer with a path, co-hosted, served at the origin root too",
    issuer: "https://mcp.test/tenant1",
    rootDiscoverable: true,
    options: { serveAtOriginRoot: true },
  },
  { name: "separate authorization server with a path", issuer: "https://as.test/tenant1", rootDiscoverable: false },
];

function deploy(d: Deployment) {
  const server = createAuthorizationServer({
    issuer: d.issuer,
    resource: MCP,
    scopes: { "mcp:tools": "tools", "mcp:admin": "admin" },
    // Clients before 2025-11-25 send no scope: they get the default, which the MCP server needs.
    defaultScopes: ["mcp:tools"],
    storage: createMemoryStore(),
    login: { verifyPassword: async ({ username, password }) => (username === USER.username && password === USER.password ? { subject: username } : null) },
    clientMetadataDocuments: {
      fetch: async (request) =>
        request.url === CIMD_URL
          ? Response.json({ client_id: CIMD_URL, client_name: "CIMD client", redirect_uris: ["http://127.0.0.1/callback"] })
          : new Response(null, { status: 404 }),
      resolveHost: async () => ["203.0.114.7"],
    },
    ...d.options,
  });
  const guard = createResourceGuard({
    resource: MCP,
    authorizationServers: [server.issuer],
    verifier: server,
    requiredScopes: ["mcp:tools"],
    mcp: { tools: { admin_echo: ["mcp:admin"] } },
  });
  /** The network: mcp.test runs the guard (and the server when co-hosted), as.test the server. */
  const fetch = async (input: string | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.origin === new URL(d.issuer).origin) {
      const owned = await server.handle(request);
      if (owned) return owned;
    }
    if (url.origin === "https://mcp.test") {
      const prm = await guard.handle(request);
      if (prm) return prm;
      if (url.pathname === "/mcp") {
        const auth = await guard.authenticate(request);
        return auth instanceof Response ? auth : Response.json({ ok: true, scopes: auth.scopes });
      }
    }
    return new Response("not found", { status: 404 });
  };
  return { server, fetch };
}

function challenge(response: Response): Record<string, string> {
  const header = response.headers.get("WWW-Authenticate") ?? "";
  return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}

const b64url = (bytes: ArrayBuffer) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");

/** A client of one revision: discovery, registration, sign-in, token, as that revision specifies. */
async function revisionClient(revision: Revision, net: ReturnType<typeof deploy>["fetch"], extraScope?: string) {
  const mcpCall = (token?: string, body: unknown = { jsonrpc: "2.0", id: 1, method: "tools/list" }) =>
    net(MCP, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  const first = await mcpCall();
  expect(first.status).toBe(401);
  const params = challenge(first);

  let asUrl: string;
  let scope: string | undefined;
  let resource: string | undefined;
  if (atLeast(revision, "2025-06-18")) {
    // RS-401-1, RS-PRM-1..3: the challenge names the PRM; the PRM names the resource and the AS.
    expect(params.resource_metadata).toBeDefined();
    const prm = (await (await net(params.resource_metadata!)).json()) as { resource: string; authorization_servers: string[] };
    expect(prm.resource).toBe(MCP);
    asUrl = prm.authorization_servers[0]!;
    resource = prm.resource;
    if (atLeast(revision, "2025-11-25")) scope = params.scope;
  } else {
    asUrl = new URL("/", MCP).origin; // 2025-03-26: the MCP origin, path dropped
  }

  const asParsed = new URL(asUrl);
  const path = asParsed.pathname === "/" ? "" : asParsed.pathname;
  const candidates =
    revision === "2025-03-26"
      ? [`${asParsed.origin}/.well-known/oauth-authorization-server`]
      : revision === "2025-06-18"
        ? [`${asParsed.origin}/.well-known/oauth-authorization-server${path}`]
        : [
            `${asParsed.origin}/.well-known/oauth-authorization-server${path}`,
            `${asParsed.origin}/.well-known/openid-configuration${path}`,
            ...(path ? [`${asParsed.origin}${path}/.well-known/openid-configuration`] : []),
          ];
  let metadata: Record<string, unknown> | undefined;
  for (const candidate of candidates) {
    const response = await net(candidate);
    if (response.ok) {
      metadata = (await response.json()) as Record<string, unknown>;
      break;
    }
  }
  expect(metadata, "authorization server metadata found").toBeDefined();
  const md = metadata!;
  if (revision !== "2025-03-26") expect(md.issuer).toBe(asUrl); // AS-MD-4, RS-PRM-3 (2026-07-28: MUST)
  expect(md.code_challenge_methods_supported).toContain("S256"); // AS-MD-3
  expect(md.response_types_supported).toContain("code");

  // Registration: CIMD where supported and preferred (2025-11-25), DCR otherwise (2026-07-28 with application_type).
  let clientId: string;
  let redirectUri = REDIRECT;
  if (revision === "2025-11-25") {
    expect(md.client_id_metadata_document_supported).toBe(true); // AS-MD-9
    clientId = CIMD_URL;
    redirectUri = "http://127.0.0.1:40111/callback"; // the document lists a portless loopback URI (AS-CIMD-7)
  } else {
    const registration = {
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code", "refresh_token"],
      client_name: `${revision} client`,
      ...(revision === "2026-07-28" ? { application_type: "native" } : {}),
    };
    const registered = await net(md.registration_endpoint as string, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(registration),
    });
    expect(registered.status).toBe(201); // AS-DCR-1
    clientId = ((await registered.json()) as { client_id: string }).client_id;
  }

  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)).buffer);
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)).buffer);
  const url = new URL(md.authorization_endpoint as string);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))),
    code_challenge_method: "S256",
    state,
    ...(scope || extraScope ? { scope: [scope, extraScope].filter(Boolean).join(" ") } : {}),
    ...(resource ? { resource } : {}),
  }).toString();
  // The login page, then the consent page it leads to, each posted where its form says.
  const page = await net(url);
  expect(page.status).toBe(200);
  const login = await readConsentPage(page);
  let cookie = cookiesOf(page);
  const signedIn = await net(new URL(login.html.match(/action="([^"]+)"/)![1]!, url).href, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie },
    body: new URLSearchParams({ request_id: login.requestId, csrf_token: login.csrf, ...USER }),
  });
  expect(signedIn.status).toBe(303);
  cookie = cookiesOf(signedIn, cookie);
  const consentUrl = new URL(signedIn.headers.get("Location")!, url).href;
  const form = await readConsentPage(await net(consentUrl, { headers: { Cookie: cookie } }));
  const decided = await net(new URL(form.html.match(/action="([^"]+)"/)![1]!, consentUrl).href, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie },
    body: new URLSearchParams({ request_id: form.requestId, csrf_token: form.csrf, decision: "allow" }),
  });
  const callback = new URL(decided.headers.get("Location")!);
  expect(callback.searchParams.get("state")).toBe(state); // AS-AUTHZ-11
  if (atLeast(revision, "2026-07-28")) {
    expect(md.authorization_response_iss_parameter_supported).toBe(true); // AS-MD-10
    expect(callback.searchParams.get("iss")).toBe(md.issuer); // AS-AUTHZ-12: exact comparison
  }
  const token = await net(md.token_endpoint as string, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: callback.searchParams.get("code")!,
      code_verifier: verifier,
      client_id: clientId,
      redirect_uri: redirectUri,
      ...(resource ? { resource } : {}),
    }),
  });
  expect(token.status).toBe(200);
  const tokens = (await token.json()) as { access_token: string; refresh_token: string; scope?: string };
  return { md, clientId, tokens, mcpCall, resource };
}

describe.each(DEPLOYMENTS)("Conformance: $name", (deployment) => {
  const revisions = REVISIONS.filter((r) => r !== "2025-03-26" || deployment.rootDiscoverable);

  describe.each(revisions)("MCP %s client", (revision) => {
    it("discovers, registers, signs in, and calls the MCP server with an audience-bound token (AS-MD-1..4, RS-PRM-1..3, AS-DCR-1, AS-CIMD-7, AS-AUTHZ-11, AS-TOKEN-6, RS-TOK-1)", async () => {
      const { fetch } = deploy(deployment);
      const { tokens, mcpCall } = await revisionClient(revision, fetch);
      const call = await mcpCall(tokens.access_token);
      expect(call.status).toBe(200);
      // A token is never issued without an audience, even when the client did not send resource.
      const payload = JSON.parse(atob(tokens.access_token.split(".")[1]!.replaceAll("-", "+").replaceAll("_", "/"))) as { aud: string };
      expect(payload.aud).toBe(MCP);
    });

    it("refreshes with rotation: the new refresh token works, the old one is refused (AS-RT-1)", async () => {
      const { fetch } = deploy(deployment);
      const { md, clientId, tokens, resource } = await revisionClient(revision, fetch);
      const refresh = (refreshToken: string) =>
        fetch(md.token_endpoint as string, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId, ...(resource ? { resource } : {}) }),
        });
      const rotated = await refresh(tokens.refresh_token);
      expect(rotated.status).toBe(200);
      const next = ((await rotated.json()) as { refresh_token: string }).refresh_token;
      expect(next).not.toBe(tokens.refresh_token);
      // Once its successor has been used, the old token is no lost-response retry (issue 6): refused.
      expect((await refresh(next)).status).toBe(200);
      expect((await refresh(tokens.refresh_token)).status).toBe(400);
    });
  });

  describe.each(revisions.filter((r) => atLeast(r, "2025-11-25")))("MCP %s client, step-up", (revision) => {
    it("gets 403 insufficient_scope naming every needed scope, never offline_access, and succeeds after re-authorizing with it (RS-403-1, RS-403-2, RS-403-4, RS-403-5)", async () => {
      const { fetch } = deploy(deployment);
      const first = await revisionClient(revision, fetch);
      const adminCall = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "admin_echo", arguments: { text: "x" } } };
      const refused = await first.mcpCall(first.tokens.access_token, adminCall);
      expect(refused.status).toBe(403);
      const c = challenge(refused);
      expect(c.error).toBe("insufficient_scope");
      expect(c.scope!.split(" ").sort()).toEqual(["mcp:admin", "mcp:tools"]);
      expect(c.scope).not.toContain("offline_access");
      const stepped = await revisionClient(revision, fetch, c.scope);
      expect((await stepped.mcpCall(stepped.tokens.access_token, adminCall)).status).toBe(200);
    });
  });
});

describe("Issuers with a path and several tenants (RFC 8414 §3.1, AS-MD-5)", () => {
  it("serves each tenant's metadata at its own well-known URLs only, and keeps their clients apart", async () => {
    const storage = createMemoryStore();
    const tenant = (name: string) =>
      createAuthorizationServer({ issuer: `https://as.test/${name}`, resource: MCP, scopes: { "mcp:tools": "t" }, storage, interactionUrl: "/login" });
    const [one, two] = [tenant("tenant1"), tenant("tenant2")];
    const get = async (path: string) => {
      const request = new Request(`https://as.test${path}`);
      return (await one.handle(request)) ?? (await two.handle(request)) ?? new Response(null, { status: 404 });
    };
    for (const [path, issuer] of [
      ["/.well-known/oauth-authorization-server/tenant1", "https://as.test/tenant1"],
      ["/.well-known/openid-configuration/tenant1", "https://as.test/tenant1"],
      ["/tenant1/.well-known/openid-configuration", "https://as.test/tenant1"],
      ["/.well-known/oauth-authorization-server/tenant2", "https://as.test/tenant2"],
    ] as const) {
      expect(((await (await get(path)).json()) as { issuer: string }).issuer).toBe(issuer);
    }
    expect((await get("/.well-known/oauth-authorization-server")).status).toBe(404);
    const registered = await one.fetch(
      new Request("https://as.test/tenant1/register", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" }),
      }),
    );
    const { client_id } = (await registered.json()) as { client_id: string };
    const authorize = (server: typeof one, name: string) =>
      server.fetch(
        new Request(`https://as.test/${name}/authorize?response_type=code&client_id=${client_id}&code_challenge=${"a".repeat(43)}&code_challenge_method=S256`),
      );
    expect((await authorize(one, "tenant1")).status).toBe(302);
    expect((await authorize(two, "tenant2")).status).toBe(400); // unknown to tenant2, though they share a store
  });
});
