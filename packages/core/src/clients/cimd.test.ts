import { describe, expect, it, vi } from "vitest";
import { authorizationUrl, createTestServer, openConsentPage, readConsentPage, RESOURCE, USER } from "../../test/helpers.js";
import { connectionRecorder } from "../../test/listener.js";

const DOC_URL = "https://client.test/oauth/cimd.json";
const validDoc = (overrides: Record<string, unknown> = {}) => ({
  client_id: DOC_URL,
  client_name: "CIMD Client",
  redirect_uris: ["http://127.0.0.1:3000/callback"],
  grant_types: ["authorization_code", "refresh_token"],
  token_endpoint_auth_method: "none",
  ...overrides,
});

/** A document server stand-in that records every request the authorization server makes. */
function documentServer(respond: (url: string) => Response | Promise<Response>) {
  const requests: string[] = [];
  return {
    requests,
    fetch: async (request: Request) => {
      requests.push(request.url);
      expect(request.redirect).toBe("manual");
      return respond(request.url);
    },
  };
}

function setup(respond: (url: string) => Response | Promise<Response>, extra: Record<string, unknown> = {}, addresses: Record<string, string[]> = {}) {
  const docs = documentServer(respond);
  const t = createTestServer({
    clientMetadataDocuments: {
      fetch: docs.fetch,
      resolveHost: async (host) => addresses[host] ?? ["203.0.114.10"],
      ...extra,
    },
  });
  return { ...t, docs };
}

const json = (body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json", ...headers } });

async function authorize(t: ReturnType<typeof setup>, clientId: string, redirectUri = "http://127.0.0.1:4000/callback") {
  const { url } = await authorizationUrl({ client_id: clientId, redirect_uri: redirectUri });
  return t.fetch(url);
}

describe("Client ID Metadata Documents (CIMD, MCP 2025-11-25)", () => {
  it("advertises client_id_metadata_document_supported, and not when turned off (AS-MD-9)", async () => {
    const on = setup(() => json(validDoc()));
    expect(on.server.metadata().client_id_metadata_document_supported).toBe(true);
    const off = createTestServer({ clientMetadataDocuments: false });
    expect(off.server.metadata().client_id_metadata_document_supported).toBeUndefined();
    const offAsBefore = createTestServer({ clientMetadataDocuments: { enabled: false } });
    expect(offAsBefore.server.metadata().client_id_metadata_document_supported).toBeUndefined();
  });

  it("fetches the document, accepts a loopback redirect on another port, and shows the document host on consent (AS-CIMD-7, AS-CIMD-11)", async () => {
    const t = setup(() => json(validDoc()));
    expect((await authorize(t, DOC_URL)).status).toBe(200);
    const { url } = await authorizationUrl({ client_id: DOC_URL, redirect_uri: "http://127.0.0.1:4000/callback" });
    const { html } = await openConsentPage(t.fetch, url);
    expect(html).toContain("data-document-host>client.test<");
    expect(html).toContain("CIMD Client");
    expect(html).toContain('data-warning="localhost"');
    expect(t.docs.requests).toEqual([DOC_URL]);
  });

  it("completes a whole sign-in and token exchange for a document client", async () => {
    const t = setup(() => json(validDoc()));
    const { url, verifier } = await authorizationUrl({ client_id: DOC_URL, redirect_uri: "http://127.0.0.1:4000/callback" });
    const page = await t.fetch(url);
    const { requestId, csrf, cookie } = await readConsentPage(page);
    const decided = await t.fetch("https://as.test/authorize/consent", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie },
      body: new URLSearchParams({ request_id: requestId, csrf_token: csrf, ...USER, decision: "allow" }),
    });
    const code = new URL(decided.headers.get("Location")!).searchParams.get("code")!;
    const token = await t.fetch("https://as.test/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: DOC_URL, resource: RESOURCE }),
    });
    expect(token.status).toBe(200);
    expect(t.docs.requests).toHaveLength(1); // the token endpoint used the cached document
  });

  it("keeps installations of one document client apart: revoking one's grant leaves the other's alone", async () => {
    const t = setup(() => json(validDoc()));
    const signIn = async () => {
      const { url, verifier } = await authorizationUrl({ client_id: DOC_URL, redirect_uri: "http://127.0.0.1:4000/callback" });
      const { requestId, csrf, cookie } = await readConsentPage(await t.fetch(url));
      const decided = await t.fetch("https://as.test/authorize/consent", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie },
        body: new URLSearchParams({ request_id: requestId, csrf_token: csrf, ...USER, decision: "allow" }),
      });
      const code = new URL(decided.headers.get("Location")!).searchParams.get("code")!;
      const token = await t.fetch("https://as.test/token", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: DOC_URL }),
      });
      return (await token.json()) as { access_token: string; refresh_token: string };
    };
    const [laptop, desktop] = [await signIn(), await signIn()];
    const revoked = await t.fetch("https://as.test/revoke", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: laptop.refresh_token, client_id: DOC_URL }),
    });
    expect(revoked.status).toBe(200);
    const check = (token: string) => t.guard.authenticate(new Request(RESOURCE, { headers: { Authorization: `Bearer ${token}` } }));
    expect(await check(laptop.access_token)).toBeInstanceOf(Response);
    expect(await check(desktop.access_token)).not.toBeInstanceOf(Response);
  });

  it.each([
    ["http://client.test/c.json", "http scheme"],
    ["https://client.test", "no path"],
    ["https://client.test/", "root path"],
    ["https://u:p@client.test/c.json", "userinfo"],
    ["https://client.test/c.json#x", "fragment"],
    ["https://client.test/a/../c.json", "dot segment"],
    ["https://client.test/a/%2e%2e/c.json", "encoded dot segment"],
    ["https://127.0.0.1/c.json", "loopback literal"],
    ["https://[::ffff:169.254.169.254]/c.json", "mapped metadata address"],
    ["https://0x7f000001/c.json", "hex IPv4 loopback"],
    ["https://2130706433/c.json", "decimal IPv4 loopback"],
    ["https://10.0.0.5/c.json", "private literal"],
  ])("refuses %s (%s) with an error page and no fetch (AS-CIMD-1, AS-CIMD-3)", async (clientId) => {
    const t = setup(() => json(validDoc({ client_id: clientId })));
    const response = await authorize(t, clientId);
    expect(response.status).toBe(400);
    expect(response.headers.get("Location")).toBeNull();
    expect(t.docs.requests).toEqual([]);
  });

  it("refuses a host that resolves to a private address without fetching (AS-CIMD-3, B13)", async () => {
    const t = setup(() => json(validDoc()), {}, { "client.test": ["93.184.216.34", "10.0.0.5"] });
    const response = await authorize(t, DOC_URL);
    expect(response.status).toBe(400);
    expect(t.docs.requests).toEqual([]);
  });

  it.each([301, 302, 404, 500])("treats a %i answer as failure and follows no redirect (AS-CIMD-2, B14)", async (status) => {
    const t = setup(() => new Response(null, { status, headers: { Location: "https://elsewhere.test/doc.json" } }));
    const response = await authorize(t, DOC_URL);
    expect(response.status).toBe(400);
    expect(t.docs.requests).toEqual([DOC_URL]);
  });

  it("stops reading past the size limit (AS-CIMD-4, B15)", async () => {
    const t = setup(() => json(validDoc({ padding: "x".repeat(6000) })));
    expect((await authorize(t, DOC_URL)).status).toBe(400);
  });

  it("aborts a document server that never finishes at the timeout, not before (AS-CIMD-4)", async () => {
    // The clock is the test's: the deadline fires when the test moves time, never by the machine's speed.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      let requested!: () => void;
      const fetched = new Promise<void>((resolve) => (requested = resolve));
      const t = setup(
        () => {
          requested();
          // The stand-in ignores the signal, as a stalled socket would not; the reader must still give up.
          return new Response(
            new ReadableStream({
              start(controller) {
                controller.enqueue(new TextEncoder().encode("{"));
              },
            }),
            { status: 200 },
          );
        },
        { timeoutMs: 200 },
      );
      let answer: Response | undefined;
      const answered = authorize(t, DOC_URL).then((response) => (answer = response));
      await fetched;
      await vi.advanceTimersByTimeAsync(199);
      expect(answer).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      await answered;
      expect(answer!.status).toBe(400);
    } finally {
      vi.useRealTimers();
    }
  });

  it.each([
    ["client_id with a trailing slash", { client_id: `${DOC_URL}/` }],
    ["client_id with an explicit port", { client_id: "https://client.test:443/oauth/cimd.json" }],
    ["client_id differing in host case", { client_id: "https://CLIENT.test/oauth/cimd.json" }],
    ["no client_name", { client_name: undefined }],
    ["no redirect_uris", { redirect_uris: undefined }],
    ["empty redirect_uris", { redirect_uris: [] }],
    ["a javascript: redirect URI", { redirect_uris: ["javascript:alert(1)"] }],
    ["a client secret method", { token_endpoint_auth_method: "client_secret_basic" }],
    ["a client_secret", { client_secret: "s" }],
    ["client_secret_expires_at", { client_secret_expires_at: 0 }],
    ["a private key", { jwks: { keys: [{ kty: "EC", crv: "P-256", x: "x", y: "y", d: "secret" }] } }],
  ])("rejects a document with %s (AS-CIMD-5, AS-CIMD-6, AS-CIMD-8, B16)", async (_, overrides) => {
    const t = setup(() => json(validDoc(overrides)));
    const response = await authorize(t, DOC_URL);
    expect(response.status).toBe(400);
    expect(response.headers.get("Location")).toBeNull();
  });

  it("never treats a document that declares private_key_jwt as a public client: no code, and client_id alone gets invalid_client (AS-CIMD-9)", async () => {
    // Portcullis does not authenticate metadata-document clients by assertion: it refuses the
    // document instead, so a key-bound client can never be used without its key.
    const jwks = { keys: [{ kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" }] };
    const t = setup(() => json(validDoc({ token_endpoint_auth_method: "private_key_jwt", jwks })));
    const page = await authorize(t, DOC_URL);
    expect(page.status).toBe(400);
    expect(page.headers.get("Location")).toBeNull();
    const token = await t.fetch("https://as.test/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: "nope",
        code_verifier: "v".repeat(43),
        client_id: DOC_URL,
        redirect_uri: "http://127.0.0.1:3000/callback",
      }),
    });
    expect(token.status).toBe(401);
    expect(((await token.json()) as { error: string }).error).toBe("invalid_client");
  });

  it("rejects a body that is a JSON array (AS-CIMD-5)", async () => {
    const t = setup(() => json([validDoc()]));
    expect((await authorize(t, DOC_URL)).status).toBe(400);
  });

  it("refuses a redirect_uri the document does not list, with an error page (AS-CIMD-7)", async () => {
    const t = setup(() => json(validDoc()));
    const response = await authorize(t, DOC_URL, "https://evil.test/callback");
    expect(response.status).toBe(400);
    expect(response.headers.get("Location")).toBeNull();
  });

  it("caches a valid document within max-age and does not cache failures (AS-CIMD-10)", async () => {
    let answer = 500;
    const t = setup(() => (answer === 500 ? new Response("oops", { status: 500 }) : json(validDoc(), { "Cache-Control": "max-age=120" })));
    expect((await authorize(t, DOC_URL)).status).toBe(400);
    answer = 200;
    expect((await authorize(t, DOC_URL)).status).toBe(200);
    expect((await authorize(t, DOC_URL)).status).toBe(200);
    expect(t.docs.requests).toHaveLength(2);
  });

  it("drops non-https links from the document instead of rendering them (AS-CIMD-13)", async () => {
    const t = setup(() => json(validDoc({ logo_uri: "javascript:alert(1)", client_uri: "http://169.254.169.254/" })));
    const page = await authorize(t, DOC_URL);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).not.toContain("javascript:");
    expect(html).not.toContain("169.254.169.254");
  });

  it("applies the host allow-list before any fetch (AS-CIMD-12)", async () => {
    const t = setup(() => json(validDoc()), { allowedFetchHosts: ["*.trusted.test"] });
    expect((await authorize(t, DOC_URL)).status).toBe(400);
    expect(t.docs.requests).toEqual([]);
  });

  it("looks up a configured https:// client id locally and never fetches it (AS-CIMD-14)", async () => {
    const docs = documentServer(() => json({}));
    const t = createTestServer({
      clientMetadataDocuments: { fetch: docs.fetch },
      clients: [{ client_id: "https://vanity.test/app", redirect_uris: ["http://127.0.0.1/cb"], client_name: "Vanity" }],
    });
    const { url } = await authorizationUrl({ client_id: "https://vanity.test/app" });
    expect((await t.fetch(url)).status).toBe(200);
    expect(docs.requests).toEqual([]);
  });

  it("answers 401 invalid_client at the token endpoint when the document cannot be had", async () => {
    const t = setup(() => new Response(null, { status: 404 }));
    const response = await t.fetch("https://as.test/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", code: "x", code_verifier: "v".repeat(43), client_id: DOC_URL }),
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: string }).error).toBe("invalid_client");
  });
});

describe("Client ID URLs under the default outbound policy", () => {
  it("audit #6: a client ID URL on https://localhost:<port> is refused by default, with no connection made", async () => {
    const listener = await connectionRecorder();
    try {
      const t = createTestServer();
      for (const host of ["localhost", "LOCALHOST.", "app.localhost"]) {
        const response = await authorize(t as ReturnType<typeof setup>, `https://${host}:${listener.port}/cimd.json`);
        expect(response.status).toBe(400);
      }
      expect(listener.connections).toBe(0);
    } finally {
      await listener.close();
    }
  });

  it.each([
    "https://metadata.google.internal/computeMetadata/v1/cimd.json",
    "https://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/cimd.json",
    "https://instance-data.ec2.internal/latest/cimd.json",
    "https://metadata/computeMetadata/v1/cimd.json",
    "https://printer.local/cimd.json",
    "https://nas.home.arpa/cimd.json",
    "https://router.localdomain/cimd.json",
    "https://[64:ff9b:1::a9fe:a9fe]/cimd.json",
    "https://[2001:2::1]/cimd.json",
    "https://0177.0.0.1/cimd.json",
    "https://127.1/cimd.json",
    "https://0x7f.0.0.1/cimd.json",
    "https://192.0.0.192/cimd.json",
  ])("audit #6: refuses %s without resolveHost, and never fetches it", async (clientId) => {
    const docs = documentServer(() => json(validDoc({ client_id: clientId })));
    const t = createTestServer({ clientMetadataDocuments: { fetch: docs.fetch } });
    const response = await authorize(t as ReturnType<typeof setup>, clientId);
    expect(response.status).toBe(400);
    expect(docs.requests).toEqual([]);
  });
});
