/** The SPEC-CHECKLIST §3 bad inputs not covered next to the endpoints, by ID. */
import { describe, expect, it } from "vitest";
import {
  authorizationUrl,
  basic,
  CONF_SECRET,
  TEST_CLIENTS,
  createTestServer,
  form,
  ISSUER,
  obtainConfidentialTokens,
  openConsentPage,
  RESOURCE,
} from "../helpers.js";

describe("Bad inputs (SPEC-CHECKLIST §3)", () => {
  it("B31: shows a homoglyph client name escaped, with the redirect host plainly beside it", async () => {
    const t = createTestServer({
      clients: [{ client_id: "lookalike", client_name: "G\u043e\u043egle <b>Docs</b>", redirect_uris: ["https://evil.test/cb"] }],
    });
    const { url } = await authorizationUrl({ client_id: "lookalike", redirect_uri: "https://evil.test/cb" });
    const { html } = await openConsentPage(t.fetch, url);
    expect(html).toContain("G\u043e\u043egle &#60;b&#62;Docs&#60;/b&#62;");
    expect(html).not.toContain("<b>Docs</b>");
    expect(html).toMatch(/Returns to<\/dt><dd><code data-redirect-host>evil\.test<\/code>/);
  });

  it("B34: refuses a bearer access token as introspection credentials, and answers inactive for a token of another client", async () => {
    const t = createTestServer({
      clients: [...TEST_CLIENTS, { client_id: "rs", client_secret: "rs-secret-rs-secret-0", redirect_uris: ["https://rs.test/cb"] }],
    });
    const body = await obtainConfidentialTokens(t.fetch);
    const asBearer = await t.fetch(`${ISSUER}/introspect`, form({ token: body.access_token! }, { Authorization: `Bearer ${body.access_token}` }));
    expect(asBearer.status).toBe(400);
    expect(((await asBearer.json()) as { error: string }).error).toBe("invalid_request");
    // Another confidential client asking about conf's token learns nothing; conf itself does.
    const inactive = await t.fetch(`${ISSUER}/introspect`, form({ token: body.access_token! }, { Authorization: basic("rs", "rs-secret-rs-secret-0") }));
    expect(await inactive.json()).toEqual({ active: false });
    const own = await t.fetch(`${ISSUER}/introspect`, form({ token: body.access_token! }, { Authorization: basic("conf", CONF_SECRET) }));
    expect(((await own.json()) as { active: boolean }).active).toBe(true);
  });

  it("B42: takes issuer and resource from configuration, never from the Host header", async () => {
    const t = createTestServer();
    const as = await t.fetch(`${ISSUER}/.well-known/oauth-authorization-server`, { headers: { Host: "evil.test", "X-Forwarded-Host": "evil.test" } });
    const text = await as.text();
    expect(JSON.parse(text).issuer).toBe(ISSUER);
    expect(text).not.toContain("evil.test");
    const prm = await t.guard.handle(new Request(`https://mcp.test/.well-known/oauth-protected-resource/mcp`, { headers: { Host: "evil.test" } }));
    const prmText = await prm!.text();
    expect(JSON.parse(prmText).resource).toBe(RESOURCE);
    expect(prmText).not.toContain("evil.test");
  });

  it("B44: answers prompt=none with login_required only by redirect to the client's registered URI, never a page for a mismatched one", async () => {
    const t = createTestServer();
    const registered = await t.fetch((await authorizationUrl({ prompt: "none" })).url);
    expect(new URL(registered.headers.get("Location")!).searchParams.get("error")).toBe("login_required");
    expect(registered.headers.get("Location")!.startsWith("http://127.0.0.1/cb?")).toBe(true);
    const unregistered = await t.fetch((await authorizationUrl({ prompt: "none", redirect_uri: "https://evil.test/cb" })).url);
    expect(unregistered.status).toBe(400);
    expect(unregistered.headers.get("Location")).toBeNull();
  });
});
