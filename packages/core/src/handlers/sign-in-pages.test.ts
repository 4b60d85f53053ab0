import { describe, expect, it } from "vitest";
import { createMemoryStore } from "../storage/memory.js";
import {
  authorizationUrl,
  cookiesOf,
  createClockedServer,
  createTestServer,
  expectErrorRedirect,
  form,
  ISSUER,
  readConsentPage,
  redirectOf,
  RESOURCE,
  TEST_CLIENTS,
  tokenRequest,
  USER,
  type Fetch,
} from "../../test/helpers.js";

const SESSION = "__Host-portcullis-session";

/** A browser: keeps cookies between requests, follows nothing. */
function browser(fetch: Fetch, headers: Record<string, string> = {}) {
  let jar = "";
  return {
    get jar() {
      return jar;
    },
    set jar(value: string) {
      jar = value;
    },
    async open(url: string | URL, init: RequestInit = {}) {
      const response = await fetch(url, {
        ...init,
        redirect: "manual",
        headers: { ...headers, ...(init.headers as Record<string, string>), ...(jar ? { Cookie: jar } : {}) },
      });
      jar = cookiesOf(response, jar);
      return response;
    },
    post(url: string, fields: Record<string, string>) {
      return this.open(url, form(fields));
    },
  };
}
type Browser = ReturnType<typeof browser>;

/** Posts the login page's form; answers the response (303 on success). */
async function logIn(b: Browser, page: Response, user = USER) {
  const { requestId, csrf } = await readConsentPage(page);
  return b.post(`${ISSUER}/authorize/login`, { request_id: requestId, csrf_token: csrf, username: user.username, password: user.password });
}

/** Allows on the consent page at `location`; answers the redirect to the client. */
async function allow(b: Browser, page: Response) {
  const { requestId, csrf } = await readConsentPage(page);
  return b.post(`${ISSUER}/authorize/consent`, { request_id: requestId, csrf_token: csrf, decision: "allow" });
}

/** The whole first sign-in in a browser: login page, password, consent, Allow. Answers the code redirect. */
async function firstSignIn(b: Browser, params: Record<string, string | undefined> = {}) {
  const login = await b.open((await authorizationUrl(params)).url);
  const signedIn = await logIn(b, login);
  const consent = await b.open(signedIn.headers.get("Location")!);
  return allow(b, consent);
}

describe("Login and consent as separate steps (AS-AUTHZ-23, AS-AUTHZ-18)", () => {
  it("AS-AUTHZ-23: an unauthenticated request gets a login page with only username, password and one submit button, and no code", async () => {
    const t = createTestServer();
    const page = await t.fetch((await authorizationUrl({})).url);
    expect(page.status).toBe(200);
    expect(page.headers.get("Location")).toBeNull();
    const html = await page.text();
    expect(html.match(/<input[^>]*name="[^"]+"/g)!.map((i) => /name="([^"]+)"/.exec(i)![1])).toEqual(["request_id", "csrf_token", "username", "password"]);
    expect(html.match(/<button/g)).toHaveLength(1);
    expect(html).not.toContain('name="decision"');
    expect(html).toMatch(/<html lang="en">/);
    expect(html).toMatch(/<title>Sign in - Portcullis<\/title>/);
  });

  it("AS-AUTHZ-16, AS-AUTHZ-18: the login answers 303 to a consent page with no password field, naming the client, its redirect host and each scope's description", async () => {
    const t = createTestServer();
    const b = browser(t.fetch);
    const login = await b.open((await authorizationUrl({ scope: "mcp:tools files:read" })).url);
    const signedIn = await logIn(b, login);
    expect(signedIn.status).toBe(303);
    const consent = await b.open(signedIn.headers.get("Location")!);
    expect(consent.status).toBe(200);
    expect(consent.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
    const html = await consent.text();
    expect(html).not.toContain('type="password"');
    expect(html).not.toContain('name="password"');
    expect(html).toContain("Public test client");
    expect(html).toContain("<code data-redirect-host>127.0.0.1</code>");
    expect(html).toContain('<li data-scope="mcp:tools">Use the MCP tools</li>');
    expect(html).toContain('<li data-scope="files:read">Read files</li>');
    expect(html).toContain('<button type="submit" name="decision" value="allow"');
    expect(html).toContain('<button type="submit" name="decision" value="deny"');
    expect(html).toMatch(/name="csrf_token" value="[A-Za-z0-9_-]{43}"/);
  });

  it("shows an https logo_uri as an image that the page's CSP allows exactly, and no other image", async () => {
    const logo = "https://cdn.client.test/brand/logo.png";
    const t = createTestServer({
      clients: [...TEST_CLIENTS, { client_id: "logo", client_name: "Logo app", logo_uri: logo, redirect_uris: ["https://app.test/cb"] }],
    });
    const b = browser(t.fetch);
    const login = await b.open((await authorizationUrl({ client_id: "logo", redirect_uri: "https://app.test/cb" })).url);
    const consent = await b.open((await logIn(b, login)).headers.get("Location")!);
    const csp = consent.headers.get("Content-Security-Policy")!;
    expect(csp).toContain(`img-src 'self' ${logo};`);
    expect(await consent.text()).toContain(`<img src="${logo}" alt="" data-client-logo>`);
  });

  it("a wrong password stays on the login page (401) and starts no session", async () => {
    const t = createTestServer();
    const b = browser(t.fetch);
    const login = await b.open((await authorizationUrl({})).url);
    const wrong = await logIn(b, login, { username: USER.username, password: "nope" });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.getSetCookie().join()).not.toContain(SESSION);
    expect(await wrong.text()).toContain("The username or password is incorrect.");
  });

  it("the consent page of a request opens only in the browser that started it", async () => {
    const t = createTestServer();
    const b = browser(t.fetch);
    const login = await b.open((await authorizationUrl({})).url);
    const location = (await logIn(b, login)).headers.get("Location")!;
    const other = await t.fetch(location);
    expect(other.status).toBe(400);
    expect(await other.text()).not.toContain('name="decision"');
  });
});

describe("Sessions", () => {
  it("the login sets a fresh session cookie (HttpOnly, SameSite=Lax, Secure, __Host-, Path=/): a planted value never becomes a session", async () => {
    const t = createTestServer();
    const planted = "A".repeat(43);
    const b = browser(t.fetch);
    b.jar = `${SESSION}=${planted}`;
    const login = await b.open((await authorizationUrl({})).url);
    const signedIn = await logIn(b, login);
    const cookie = signedIn.headers.getSetCookie().find((c) => c.startsWith(`${SESSION}=`))!;
    expect(cookie).toMatch(/; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=28800$/);
    const value = /=([^;]+)/.exec(cookie)![1]!;
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(value).not.toBe(planted);
    // A second sign-in in the same browser gets another value still.
    const again = browser(t.fetch);
    again.jar = `${SESSION}=${value}`;
    const second = await logIn(again, await again.open((await authorizationUrl({ prompt: "login" })).url));
    expect(/=([^;]+)/.exec(second.headers.getSetCookie().find((c) => c.startsWith(`${SESSION}=`))!)![1]).not.toBe(value);
  });

  it("issuers sharing an origin keep their sessions apart: the cookie is named after the issuer's path", async () => {
    const storage = createMemoryStore();
    const tenant = (path: string) => createTestServer({ issuer: `${ISSUER}${path}`, storage, clients: TEST_CLIENTS });
    const one = tenant("/t1");
    const two = tenant("/t2");
    const b = browser((input, init) => {
      const url = new URL(input instanceof Request ? input.url : input);
      return (url.pathname.startsWith("/t1") ? one : two).fetch(input, init);
    });
    const page = await b.open(new URL(`${ISSUER}/t1/authorize${(await authorizationUrl({})).url.search}`));
    const { requestId, csrf } = await readConsentPage(page);
    const signedIn = await b.post(`${ISSUER}/t1/authorize/login`, {
      request_id: requestId,
      csrf_token: csrf,
      username: USER.username,
      password: USER.password,
    });
    expect(signedIn.headers.getSetCookie().join()).toContain("__Host-portcullis-session-t1=");
    // The other tenant knows no session of this browser: its login page, and t1's session stays.
    expect(await (await b.open(new URL(`${ISSUER}/t2/authorize${(await authorizationUrl({})).url.search}`))).text()).toContain('name="password"');
    expect(
      await (
        await b.open(new URL(`${ISSUER}/t1/authorize${(await authorizationUrl({ client_id: "conf", redirect_uri: "https://app.test/cb" })).url.search}`))
      ).text(),
    ).not.toContain('name="password"');
  });

  it("keeps sessions in the store under the hash of the cookie value, never the value", async () => {
    const storage = createMemoryStore();
    const t = createTestServer({ storage });
    const b = browser(t.fetch);
    await logIn(b, await b.open((await authorizationUrl({})).url));
    const value = /__Host-portcullis-session=([^;]+)/.exec(b.jar)![1]!;
    const sessions = await storage.list("session:");
    expect(sessions).toHaveLength(1);
    expect(JSON.stringify(sessions)).not.toContain(value);
  });

  it("a second authorization in a signed-in browser asks no password, only consent; prompt=login asks for it again", async () => {
    const t = createTestServer();
    const b = browser(t.fetch);
    await logIn(b, await b.open((await authorizationUrl({})).url));
    const second = await b.open((await authorizationUrl({ client_id: "conf", redirect_uri: "https://app.test/cb" })).url);
    expect(second.status).toBe(200);
    const html = await second.text();
    expect(html).toContain('name="decision"');
    expect(html).not.toContain('name="password"');
    expect(html).toContain("Signed in as <strong>alice</strong>");
    const forced = await b.open((await authorizationUrl({ client_id: "conf", redirect_uri: "https://app.test/cb", prompt: "login" })).url);
    expect(await forced.text()).toContain('name="password"');
  });

  it("a session ends after its configured lifetime", async () => {
    const t = createClockedServer({ sessions: { ttlSeconds: 600 } });
    const b = browser(t.fetch);
    const signedIn = await logIn(b, await b.open((await authorizationUrl({})).url));
    expect(signedIn.headers.getSetCookie().join()).toContain("Max-Age=600");
    t.clock.advance(601);
    expect(await (await b.open((await authorizationUrl({})).url)).text()).toContain('name="password"');
  });

  it("sessions: false starts none; the login still leads to consent", async () => {
    const t = createTestServer({ sessions: false });
    const b = browser(t.fetch);
    const signedIn = await logIn(b, await b.open((await authorizationUrl({})).url));
    expect(signedIn.status).toBe(303);
    expect(b.jar).not.toContain(SESSION);
    expect((await allow(b, await b.open(signedIn.headers.get("Location")!))).status).toBe(303);
    expect(await (await b.open((await authorizationUrl({})).url)).text()).toContain('name="password"');
    expect((await t.fetch(`${ISSUER}/account`)).status).toBe(404);
  });

  it("logout needs the session's CSRF token (403 without it, even with the cookie), then ends the session", async () => {
    const t = createTestServer();
    const b = browser(t.fetch);
    await logIn(b, await b.open((await authorizationUrl({})).url));
    expect((await b.post(`${ISSUER}/logout`, {})).status).toBe(403);
    const account = await (await b.open(`${ISSUER}/account`)).text();
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(account)![1]!;
    const out = await b.post(`${ISSUER}/logout`, { csrf_token: csrf });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie().join()).toMatch(/__Host-portcullis-session=; .*Max-Age=0/);
    expect(await (await b.open((await authorizationUrl({})).url)).text()).toContain('name="password"');
  });
});

// A public client whose code only its owner receives: an https redirect off loopback.
const WEB = {
  client_id: "web",
  redirect_uris: ["https://web.test/cb"],
  token_endpoint_auth_method: "none" as const,
  grant_types: ["authorization_code", "refresh_token"],
};
const web = { client_id: "web", redirect_uri: "https://web.test/cb" };

describe("Remembered consent", () => {
  it("a later request within the allowed scopes comes straight back with a code, state and iss; prompt=none too", async () => {
    const t = createTestServer({ clients: [...TEST_CLIENTS, WEB] });
    const b = browser(t.fetch);
    expect(redirectOf(await firstSignIn(b, web)).params.get("code")).toBeTruthy();
    const again = await b.open((await authorizationUrl({ ...web, state: "s2" })).url);
    expect(again.status).toBe(302);
    const { params } = redirectOf(again);
    expect(params.get("code")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get("state")).toBe("s2");
    expect(params.get("iss")).toBe(ISSUER);
    const silent = await b.open((await authorizationUrl({ ...web, prompt: "none", state: "s3" })).url);
    expect(redirectOf(silent).params.get("code")).toBeTruthy();
    expect(redirectOf(silent).params.get("state")).toBe("s3");
  });

  it("the remembered code is a working code: it redeems to tokens with the allowed scopes", async () => {
    const t = createTestServer({ clients: [...TEST_CLIENTS, WEB] });
    const b = browser(t.fetch);
    await firstSignIn(b, web);
    const { url, verifier } = await authorizationUrl(web);
    const code = redirectOf(await b.open(url)).params.get("code")!;
    const tokens = await tokenRequest(t.fetch, { grant_type: "authorization_code", code, code_verifier: verifier, ...web });
    expect(tokens.status).toBe(200);
    expect(((await tokens.json()) as { scope: string }).scope).toBe("mcp:tools");
  });

  it("a confidential client's remembered consent stands too, whatever its redirect", async () => {
    const t = createTestServer();
    const b = browser(t.fetch);
    const conf = { client_id: "conf", redirect_uri: "https://app.test/cb" };
    await firstSignIn(b, conf);
    expect(redirectOf(await b.open((await authorizationUrl(conf)).url)).params.get("code")).toBeTruthy();
  });

  it("RFC 8252 §8.6: a public client on a loopback or private-use redirect is asked again every time (any local program could use its client_id); prompt=none is consent_required", async () => {
    const native = { client_id: "native", redirect_uris: ["com.example.app:/cb"], token_endpoint_auth_method: "none" as const };
    const t = createTestServer({ clients: [...TEST_CLIENTS, native] });
    for (const params of [{}, { client_id: "pub", redirect_uri: "http://127.0.0.1:49152/cb" }, { client_id: "native", redirect_uri: "com.example.app:/cb" }]) {
      const b = browser(t.fetch);
      expect(redirectOf(await firstSignIn(b, params)).params.get("code")).toBeTruthy();
      const again = await b.open((await authorizationUrl(params)).url);
      // Straight to the consent page: signed in (no password), nothing issued.
      expect(again.status).toBe(200);
      const html = await again.text();
      expect(html).toContain('name="decision"');
      expect(html).not.toContain('name="password"');
      const silent = await b.open((await authorizationUrl({ ...params, prompt: "none", state: "quiet" })).url);
      expect(redirectOf(silent).params.get("code")).toBeNull();
      expect(redirectOf(silent).params.get("error")).toBe("consent_required");
    }
    // A new login leads to the consent page as well, not straight back.
    const b = browser(t.fetch);
    await firstSignIn(b);
    const forced = await b.open((await authorizationUrl({ prompt: "login" })).url);
    const afterLogin = await logIn(b, forced);
    expect(afterLogin.headers.get("Location")).toContain("/authorize/consent?");
  });

  it("prompt=consent asks again, and so does a wider scope", async () => {
    const t = createTestServer();
    const b = browser(t.fetch);
    await firstSignIn(b);
    const consent = await b.open((await authorizationUrl({ prompt: "consent" })).url);
    expect(consent.status).toBe(200);
    expect(await consent.text()).toContain('name="decision"');
    const wider = await b.open((await authorizationUrl({ scope: "mcp:tools files:read" })).url);
    expect(wider.status).toBe(200);
    expect(await wider.text()).toContain('data-scope="files:read"');
  });

  it("AS-AUTHZ-23: prompt=none without a session is login_required; with a session but no consent for this client, consent_required (with state and iss)", async () => {
    const t = createTestServer();
    expectErrorRedirect(await t.fetch((await authorizationUrl({ prompt: "none" })).url), "login_required", { state: "st-1" });
    const b = browser(t.fetch);
    await firstSignIn(b);
    const other = await b.open((await authorizationUrl({ client_id: "conf", redirect_uri: "https://app.test/cb", prompt: "none" })).url);
    expectErrorRedirect(other, "consent_required", { redirectUri: "https://app.test/cb", state: "st-1" });
    expect(redirectOf(other).params.get("iss")).toBe(ISSUER);
  });

  it("a token issue or refresh marks the consent's last use, at most once a minute per user and client", async () => {
    const t = createClockedServer({ clients: [...TEST_CLIENTS, WEB] });
    const b = browser(t.fetch);
    const { url, verifier } = await authorizationUrl(web);
    const code = redirectOf(await allow(b, await b.open((await logIn(b, await b.open(url))).headers.get("Location")!))).params.get("code")!;
    const issued = (await (await tokenRequest(t.fetch, { grant_type: "authorization_code", code, code_verifier: verifier, ...web })).json()) as {
      refresh_token: string;
    };
    const lastUse = async () => (await t.server.listConsents({ subject: "alice" }))[0]!.lastUsedAt;
    const first = await lastUse();
    t.clock.advance(10);
    const refresh = async (token: string) =>
      ((await (await tokenRequest(t.fetch, { grant_type: "refresh_token", refresh_token: token, client_id: "web" })).json()) as { refresh_token: string })
        .refresh_token;
    const next = await refresh(issued.refresh_token);
    expect(await lastUse()).toBe(first);
    t.clock.advance(61);
    await refresh(next);
    expect(await lastUse()).toBe(first + 71_000);
  });

  it("the consent records are per user and client, listed by the API with their scopes and last use", async () => {
    const t = createTestServer();
    await firstSignIn(browser(t.fetch), { scope: "mcp:tools files:read" });
    const apps = await t.server.listConsents({ subject: "alice" });
    expect(apps).toEqual([expect.objectContaining({ clientId: "pub", clientName: "Public test client", scopes: ["mcp:tools", "files:read"] })]);
    expect(apps[0]!.lastUsedAt).toBeTypeOf("number");
    expect(await t.server.listConsents({ subject: "bob" })).toEqual([]);
  });
});

describe("Connected applications (/account)", () => {
  it("without a session leads to the login page and back to /account", async () => {
    const t = createTestServer();
    const b = browser(t.fetch);
    const page = await b.open(`${ISSUER}/account`);
    expect(page.status).toBe(200);
    const signedIn = await logIn(b, page);
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get("Location")).toBe(`${ISSUER}/account`);
    const account = await (await b.open(`${ISSUER}/account`)).text();
    expect(account).toContain("Connected applications");
    expect(account).toContain("data-empty");
  });

  it("lists each client with the union of its scopes and its last use, and Revoke ends its tokens but no other client's", async () => {
    const t = createTestServer({ grantCacheSeconds: 0 });
    const b = browser(t.fetch);
    // Two grants to pub (the second widens the scopes), one to conf.
    const obtain = async (params: Record<string, string | undefined>, clientId: string, redirect: string) => {
      const { url, verifier } = await authorizationUrl({ client_id: clientId, redirect_uri: redirect, ...params });
      let response = await b.open(url);
      if (response.status === 200) response = await allow(b, response);
      const code = redirectOf(response).params.get("code")!;
      const body: Record<string, string> = { grant_type: "authorization_code", code, code_verifier: verifier, client_id: clientId, redirect_uri: redirect };
      const tokens = await tokenRequest(t.fetch, body, clientId === "conf" ? { Authorization: `Basic ${btoa("conf:s3cr3t-s3cr3t-s3cr3t")}` } : {});
      return (await tokens.json()) as { access_token: string; refresh_token: string };
    };
    await logIn(b, await b.open((await authorizationUrl({})).url));
    const first = await obtain({}, "pub", "http://127.0.0.1/cb");
    const second = await obtain({ scope: "files:read" }, "pub", "http://127.0.0.1/cb");
    const other = await obtain({}, "conf", "https://app.test/cb");

    const page = await (await b.open(`${ISSUER}/account`)).text();
    const pub = /<li data-client-id="pub">([\s\S]*?)<\/li>\n?(?=<li|<\/ul>)/.exec(page)![1]!;
    expect(pub).toContain('data-scope="mcp:tools"');
    expect(pub).toContain('data-scope="files:read"');
    expect(pub).toMatch(/<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z">/);
    expect(page).toContain('data-client-id="conf"');

    const csrf = /name="csrf_token" value="([^"]+)"/.exec(page)![1]!;
    expect((await b.post(`${ISSUER}/account/revoke`, { client_id: "pub" })).status).toBe(403);
    expect((await b.post(`${ISSUER}/account/revoke`, { client_id: "pub", csrf_token: "x".repeat(43) })).status).toBe(403);
    expect((await t.fetch(`${ISSUER}/account/revoke`, form({ client_id: "pub", csrf_token: csrf }))).status).toBe(403);
    const revoked = await b.post(`${ISSUER}/account/revoke`, { client_id: "pub", csrf_token: csrf });
    expect(revoked.status).toBe(303);

    for (const tokens of [first, second]) {
      expect((await tokenRequest(t.fetch, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: "pub" })).status).toBe(400);
      await expect(t.server.verifyAccessToken(tokens.access_token, { resource: RESOURCE })).rejects.toThrow();
    }
    expect((await t.server.verifyAccessToken(other.access_token, { resource: RESOURCE })).clientId).toBe("conf");
    const after = await (await b.open(`${ISSUER}/account`)).text();
    expect(after).not.toContain('data-client-id="pub"');
    expect(after).toContain('data-client-id="conf"');
    // The next authorization by pub asks again.
    expect((await b.open((await authorizationUrl({})).url)).status).toBe(200);
  });
});

describe("Page language and theme", () => {
  it("serves French to a browser that prefers it, English otherwise, with a matching lang", async () => {
    const t = createTestServer();
    const fr = await (await t.fetch((await authorizationUrl({})).url, { headers: { "Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5" } })).text();
    expect(fr).toContain('<html lang="fr">');
    expect(fr).toContain("Se connecter");
    const de = await (await t.fetch((await authorizationUrl({})).url, { headers: { "Accept-Language": "de, en;q=0.1" } })).text();
    expect(de).toContain('<html lang="en">');
    expect(de).toContain("Sign in");
  });

  it("takes a theme (logo, colours, CSS) and catalogues of the app's own", async () => {
    const t = createTestServer({
      pages: {
        theme: { logoUrl: "https://brand.test/logo.svg", colors: { accent: "#7a1fa2" }, css: "main{border-width:2px}</style><script>" },
        messages: { de: { signIn: "Anmelden" } },
      },
    });
    const page = await t.fetch((await authorizationUrl({})).url, { headers: { "Accept-Language": "de" } });
    const html = await page.text();
    expect(page.headers.get("Content-Security-Policy")).toContain("img-src 'self' https://brand.test/logo.svg;");
    expect(html).toContain('<img class="brand" src="https://brand.test/logo.svg" alt="">');
    expect(html).toContain("--pc-accent:#7a1fa2");
    expect(html).toContain("main{border-width:2px}<\\/style><script>");
    expect(html).not.toContain("</style><script>");
    expect(html).toContain('<html lang="de">');
    expect(html).toContain("Anmelden");
    expect(html).toContain("Username");
    // The error page wears the theme too.
    const error = await t.fetch(`${ISSUER}/authorize?client_id=nobody`);
    expect(error.status).toBe(400);
    expect(error.headers.get("Content-Security-Policy")).toContain("img-src 'self' https://brand.test/logo.svg;");
    expect(await error.text()).toContain("--pc-accent:#7a1fa2");
  });
});
