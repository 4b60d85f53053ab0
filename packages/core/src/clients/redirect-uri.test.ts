import { describe, expect, it } from "vitest";
import { authorizationUrl, createTestServer, expectErrorPage, ISSUER, redirectOf, signIn, TEST_CLIENTS } from "../../test/helpers.js";

const clients = [
  ...TEST_CLIENTS,
  { client_id: "v6", redirect_uris: ["http://[::1]/cb"] },
  { client_id: "lh", redirect_uris: ["http://localhost:3000/callback"] },
  { client_id: "lh0", redirect_uris: ["http://localhost/cb"] },
  { client_id: "native", redirect_uris: ["com.example.app:/cb"] },
];

function server() {
  return createTestServer({ clients });
}

/** GET /authorize for `client` with this redirect_uri. */
async function authorizeWith(t: ReturnType<typeof server>, client: string, redirectUri: string) {
  return t.fetch((await authorizationUrl({ client_id: client, redirect_uri: redirectUri })).url);
}

describe("Redirect URI matching (OAuth 2.1 §2.3.1, §4.1.1; RFC 9700 §4.1)", () => {
  it("accepts the registered redirect URI exactly (AS-AUTHZ-3)", async () => {
    const t = server();
    expect((await authorizeWith(t, "conf", "https://app.test/cb")).status).toBe(200);
  });

  it.each([
    ["a trailing slash", "https://app.test/cb/"],
    ["a path of another case", "https://app.test/CB"],
    ["an added query", "https://app.test/cb?x=1"],
    ["a suffixed host", "https://app.test.evil/cb"],
    ["an upper-case host", "https://APP.test/cb"],
    ["an explicit default port", "https://app.test:443/cb"],
    ["an encoded path trick (B1)", "https://app.test/cb/..%2Fevil"],
    ["an encoded fragment (B2)", "https://app.test/cb%23frag"],
    ["a fragment (B2)", "https://app.test/cb#frag"],
    ["a userinfo trick (B3)", "https://app.test@evil.test/cb"],
    ["http instead of https", "http://app.test/cb"],
  ])("refuses a redirect_uri that differs by %s, with an error page (AS-AUTHZ-3)", async (_, redirectUri) => {
    const t = server();
    await expectErrorPage(await authorizeWith(t, "conf", redirectUri));
  });

  it("accepts any port on a registered http loopback IP, and redirects there (AS-AUTHZ-4)", async () => {
    const t = server();
    expect((await authorizeWith(t, "pub", "http://127.0.0.1:51004/cb")).status).toBe(200);
    expect((await authorizeWith(t, "v6", "http://[::1]:61023/cb")).status).toBe(200);
    const { url } = redirectOf(await signIn(t.fetch, (await authorizationUrl({ redirect_uri: "http://127.0.0.1:51004/cb" })).url));
    expect(url.host).toBe("127.0.0.1:51004");
    expect(url.searchParams.get("iss")).toBe(ISSUER);
  });

  it.each([
    ["another path", "http://127.0.0.1:51004/cb2"],
    ["https", "https://127.0.0.1:51004/cb"],
    ["a suffixed host", "http://127.0.0.1.evil.test:1/cb"],
    ["an added query", "http://127.0.0.1:51004/cb?x=1"],
    ["a dot segment", "http://127.0.0.1:51004/x/../cb"],
    ["userinfo", "http://evil@127.0.0.1:51004/cb"],
    ["port 0 (policy: rejected) (B4)", "http://127.0.0.1:0/cb"],
    ["port 65536 (B4)", "http://127.0.0.1:65536/cb"],
    ["port -1 (B4)", "http://127.0.0.1:-1/cb"],
    ["port abc (B4)", "http://127.0.0.1:abc/cb"],
    ["a zero-padded port", "http://127.0.0.1:08080/cb"],
  ])("keeps scheme, host and path exact on loopback: refuses %s (AS-AUTHZ-4, B4)", async (_, redirectUri) => {
    const t = server();
    await expectErrorPage(await authorizeWith(t, "pub", redirectUri));
  });

  it("lets the port vary on localhost too, but never across names: localhost is not 127.0.0.1 (AS-AUTHZ-5, B5)", async () => {
    const t = server();
    expect((await authorizeWith(t, "lh", "http://localhost:49152/callback")).status).toBe(200);
    await expectErrorPage(await authorizeWith(t, "lh", "http://127.0.0.1:3000/callback"));
    await expectErrorPage(await authorizeWith(t, "lh0", "http://localhost.evil.test:8080/cb"));
    await expectErrorPage(await authorizeWith(t, "pub", "http://localhost:8080/cb"));
  });

  it("accepts a reverse-domain private-use scheme registered exactly, and redirects to it (AS-AUTHZ-6)", async () => {
    const t = server();
    const response = await signIn(t.fetch, (await authorizationUrl({ client_id: "native", redirect_uri: "com.example.app:/cb" })).url);
    expect(response.headers.get("Location")).toMatch(/^com\.example\.app:\/cb\?code=/);
  });

  it.each([
    ["http on a non-loopback host", "http://app.test/cb"],
    ["a fragment", "https://app.test/cb#f"],
    ["a relative URI", "/cb"],
    ["javascript:", "javascript:alert(1)"],
    ["a private-use scheme without a dot", "myapp:/cb"],
  ])("refuses to configure a client whose redirect URI has %s, with a TypeError at creation (AS-AUTHZ-6)", (_, redirectUri) => {
    expect(() => createTestServer({ clients: [...TEST_CLIENTS, { client_id: "bad", redirect_uris: [redirectUri] }] })).toThrow(TypeError);
  });
});
