import { describe, expect, it } from "vitest";
import { authorizationUrl, CONF_SECRET, createClock, createTestServer, ISSUER, readConsentPage, USER, type Fetch } from "../../test/helpers.js";
import { createMemoryStore } from "../storage/memory.js";
import { addressKey } from "./rate-limit.js";

/** A clocked test server and a fetch that arrives from `ip` (what an adapter passes). */
function limitedServer(overrides: Parameters<typeof createTestServer>[0] = {}) {
  const clock = createClock(Date.UTC(2030, 0, 1));
  const t = createTestServer({ now: clock.now, storage: createMemoryStore({ now: clock.now }), ...overrides });
  const from =
    (ip: string | undefined): Fetch =>
    (input, init) =>
      t.server.fetch(new Request(input, init), { remoteAddress: ip });
  return { ...t, clock, from };
}

const tokenForm = (clientId = "pub") => ({
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: "nope", client_id: clientId }),
});

describe("Rate limits (issue 6; PEERS #23)", () => {
  it("answers the token endpoint past the per-address limit with 429, Retry-After, a JSON OAuth error and a rate_limited event", async () => {
    const t = limitedServer({ rateLimit: { perIp: { token: 3 } } });
    const fetch = t.from("203.0.113.7");
    for (let i = 0; i < 3; i++) expect((await fetch(`${ISSUER}/token`, tokenForm())).status).toBe(400);
    const limited = await fetch(`${ISSUER}/token`, tokenForm());
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(limited.headers.get("Cache-Control")).toBe("no-store");
    expect(await limited.json()).toMatchObject({ error: "temporarily_unavailable" });
    expect(t.events).toContainEqual({ type: "rate_limited", endpoint: "token", limit: "ip", clientId: "pub", ip: "203.0.113.7", retryAfterSeconds: 60 });
  });

  it("stops guessing a client secret: failures answer the same whether the client exists, then 429 (AS-TOKEN-14)", async () => {
    const t = limitedServer({ rateLimit: { perIp: { token: 100 }, perClient: { token: 4 } } });
    const fetch = t.from("203.0.113.9");
    const guess = (clientId: string, secret: string) =>
      fetch(`${ISSUER}/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Basic ${btoa(`${clientId}:${secret}`)}` },
        body: new URLSearchParams({ grant_type: "authorization_code", code: "nope", code_verifier: "v".repeat(43) }),
      });
    const answers: { status: number; body: string; challenge: string | null }[] = [];
    for (const clientId of ["conf", "no-such-client"]) {
      const response = await guess(clientId, `wrong-${clientId}`);
      answers.push({ status: response.status, body: await response.text(), challenge: response.headers.get("WWW-Authenticate") });
    }
    expect(answers[0]!.status).toBe(401);
    expect(JSON.parse(answers[0]!.body)).toMatchObject({ error: "invalid_client" });
    expect(answers[1]).toEqual(answers[0]);
    for (let i = 1; i < 4; i++) expect((await guess("conf", `wrong-${i}`)).status).toBe(401);
    const limited = await guess("conf", "wrong-5");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThan(0);
    // Past the limit even the right secret waits: a guess that happens to be right is not confirmed.
    expect((await guess("conf", CONF_SECRET)).status).toBe(429);
  });

  it("never shares a bucket: another address, and another client, still get through (PEERS #23)", async () => {
    const t = limitedServer({ rateLimit: { perIp: { token: 2 }, perClient: { token: 5 } } });
    const a = t.from("203.0.113.1");
    for (let i = 0; i < 2; i++) await a(`${ISSUER}/token`, tokenForm());
    expect((await a(`${ISSUER}/token`, tokenForm())).status).toBe(429);
    expect((await t.from("203.0.113.2")(`${ISSUER}/token`, tokenForm())).status).toBe(400);
  });

  it("limits a client per calling address at the token endpoint, and across addresses at the authorization endpoint", async () => {
    const t = limitedServer({ rateLimit: { perIp: { token: 100, authorize: 100 }, perClient: { token: 2, authorize: 2 } } });
    const a = t.from("203.0.113.3");
    for (let i = 0; i < 2; i++) expect((await a(`${ISSUER}/token`, tokenForm())).status).toBe(400);
    expect((await a(`${ISSUER}/token`, tokenForm())).status).toBe(429);
    expect(t.events).toContainEqual(expect.objectContaining({ type: "rate_limited", endpoint: "token", limit: "client", clientId: "pub" }));
    expect((await a(`${ISSUER}/token`, tokenForm("pub2"))).status).toBe(400);
    expect((await t.from("203.0.113.4")(`${ISSUER}/token`, tokenForm())).status).toBe(400);

    const { url } = await authorizationUrl({});
    expect((await a(url)).status).toBe(200);
    expect((await t.from("203.0.113.4")(url)).status).toBe(200);
    expect((await t.from("203.0.113.5")(url)).status).toBe(429);
  });

  it("audit #11: one address flooding a client's token and authorization endpoints never spends another address's allowance", async () => {
    const t = limitedServer({ rateLimit: { perIp: { token: 2, authorize: 2 }, perClient: { token: 5, authorize: 5 } } });
    const a = t.from("203.0.113.61");
    const b = t.from("203.0.113.62");
    const { url } = await authorizationUrl({});
    let refused = 0;
    for (let i = 0; i < 12; i++) if ((await a(`${ISSUER}/token`, tokenForm())).status === 429) refused++;
    for (let i = 0; i < 12; i++) if ((await a(url)).status === 429) refused++;
    expect(refused).toBe(20);
    // Requests the address limit refused were never counted against the client: B goes through.
    expect((await b(`${ISSUER}/token`, tokenForm())).status).toBe(400);
    expect((await b(url)).status).toBe(200);
  });

  it("opens again when the window ends, by the injected clock", async () => {
    const t = limitedServer({ rateLimit: { perIp: { token: 1 }, windowSeconds: 60 } });
    const fetch = t.from("198.51.100.9");
    await fetch(`${ISSUER}/token`, tokenForm());
    const limited = await fetch(`${ISSUER}/token`, tokenForm());
    expect(limited.status).toBe(429);
    t.clock.advance(Number(limited.headers.get("Retry-After")));
    expect((await fetch(`${ISSUER}/token`, tokenForm())).status).toBe(400);
  });

  it("holds across instances that share a store", async () => {
    const clock = createClock(Date.UTC(2030, 0, 1));
    const storage = createMemoryStore({ now: clock.now });
    const [a, b] = [0, 1].map(() => createTestServer({ now: clock.now, storage, rateLimit: { perIp: { token: 2 } } }));
    const send = (server: typeof a) => server!.server.fetch(new Request(`${ISSUER}/token`, tokenForm()), { remoteAddress: "192.0.2.10" });
    expect((await send(a)).status).toBe(400);
    expect((await send(b)).status).toBe(400);
    expect((await send(a)).status).toBe(429);
    expect((await send(b)).status).toBe(429);
  });

  it("answers the authorization endpoint with a 429 HTML page and Retry-After, never a redirect", async () => {
    const t = limitedServer({ rateLimit: { perIp: { authorize: 1 } } });
    const fetch = t.from("203.0.113.8");
    const { url } = await authorizationUrl({});
    expect((await fetch(url)).status).toBe(200);
    const limited = await fetch(url);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(limited.headers.get("Retry-After")).toBeTruthy();
    expect(limited.headers.get("Location")).toBeNull();
    expect(limited.headers.get("Content-Security-Policy")).toContain("frame-ancestors 'none'");
  });

  it("limits registrations per address", async () => {
    const t = limitedServer({ rateLimit: { perIp: { register: 1 } } });
    const register = () =>
      t.from("203.0.113.5")(`${ISSUER}/register`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ redirect_uris: ["http://127.0.0.1/cb"], token_endpoint_auth_method: "none" }),
      });
    expect((await register()).status).toBe(201);
    const limited = await register();
    expect(limited.status).toBe(429);
    expect(t.events).toContainEqual(expect.objectContaining({ type: "rate_limited", endpoint: "register", limit: "ip" }));
  });

  it("never reads X-Forwarded-For unless trustProxy says how many proxies to believe", async () => {
    const spoofed = (fetch: Fetch, xff: string) => fetch(`${ISSUER}/token`, { ...tokenForm(), headers: { ...tokenForm().headers, "X-Forwarded-For": xff } });
    const direct = limitedServer({ rateLimit: { perIp: { token: 1 } } });
    await spoofed(direct.from("192.0.2.1"), "1.1.1.1");
    expect((await spoofed(direct.from("192.0.2.1"), "2.2.2.2")).status).toBe(429);

    const proxied = limitedServer({ rateLimit: { perIp: { token: 1 } }, trustProxy: 1 });
    await spoofed(proxied.from("10.0.0.1"), "9.9.9.9, 198.51.100.1");
    // The client's own first entry is not believed; the proxy's (last) entry is.
    expect((await spoofed(proxied.from("10.0.0.1"), "8.8.8.8, 198.51.100.1")).status).toBe(429);
    expect((await spoofed(proxied.from("10.0.0.1"), "9.9.9.9, 198.51.100.2")).status).toBe(400);

    const custom = limitedServer({ rateLimit: { perIp: { token: 1 } }, clientIp: (request) => request.headers.get("CF-Connecting-IP") ?? undefined });
    const cf = (ip: string) => custom.from(undefined)(`${ISSUER}/token`, { ...tokenForm(), headers: { ...tokenForm().headers, "CF-Connecting-IP": ip } });
    await cf("203.0.113.50");
    expect((await cf("203.0.113.50")).status).toBe(429);
    expect((await cf("203.0.113.51")).status).toBe(400);
  });

  it("turns off with rateLimit: false", async () => {
    const t = limitedServer({ rateLimit: false });
    for (let i = 0; i < 5; i++) expect((await t.from("203.0.113.1")(`${ISSUER}/token`, tokenForm())).status).toBe(400);
  });

  it("counts IPv6 clients per /64 and IPv4-mapped addresses as IPv4", () => {
    expect(addressKey("2001:db8:1:2:aaaa::1")).toBe(addressKey("[2001:db8:1:2:ffff::9]"));
    expect(addressKey("2001:db8:1:3::1")).not.toBe(addressKey("2001:db8:1:2::1"));
    expect(addressKey("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(addressKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(addressKey("not an address")).toBeUndefined();
  });
});

describe("Sign-in lockout on the built-in page (issue 6)", () => {
  async function attempt(fetch: Fetch, password: string, username = USER.username) {
    const { url } = await authorizationUrl({});
    const page = await fetch(url);
    const { requestId, csrf, cookie } = await readConsentPage(page);
    return fetch(`${ISSUER}/authorize/consent`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie },
      body: new URLSearchParams({ request_id: requestId, csrf_token: csrf, username, password, decision: "allow" }),
      redirect: "manual",
    });
  }

  it("locks a username and address out after 5 wrong passwords, refusing even the right one, then doubles the wait", async () => {
    const verified: string[] = [];
    const t = limitedServer({
      login: {
        verifyPassword: async ({ username, password }) => {
          verified.push(password);
          return username === USER.username && password === USER.password ? { subject: username } : null;
        },
      },
    });
    const fetch = t.from("203.0.113.20");
    for (let i = 0; i < 5; i++) expect((await attempt(fetch, `wrong-${i}`)).status).toBe(401);
    const locked = await attempt(fetch, USER.password);
    expect(locked.status).toBe(429);
    expect(locked.headers.get("Retry-After")).toBe("30");
    expect(locked.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(await locked.text()).toContain("Too many failed sign-in attempts");
    expect(verified).not.toContain(USER.password);
    expect(t.events).toContainEqual(expect.objectContaining({ type: "rate_limited", endpoint: "login", limit: "lockout", retryAfterSeconds: 30 }));
    // Case variants share the lock; another address does not.
    expect((await attempt(fetch, USER.password, USER.username.toUpperCase())).status).toBe(429);
    expect((await attempt(t.from("203.0.113.21"), USER.password)).status).toBe(303);

    t.clock.advance(30);
    expect((await attempt(fetch, "wrong-again")).status).toBe(401);
    const longer = await attempt(fetch, USER.password);
    expect(longer.headers.get("Retry-After")).toBe("60");
    t.clock.advance(60);
    expect((await attempt(fetch, USER.password)).status).toBe(303);
    // Success clears the count: one more failure is no lockout.
    expect((await attempt(fetch, "wrong")).status).toBe(401);
    expect((await attempt(fetch, USER.password)).status).toBe(303);
  });

  it("judges one password of many sent at once after a lockout ends, and gives the turn back when the check throws", async () => {
    let judged = 0;
    let broken = false;
    const t = limitedServer({
      login: {
        verifyPassword: async () => {
          judged++;
          if (broken) throw new Error("directory down");
          return null;
        },
      },
    });
    const fetch = t.from("203.0.113.40");
    for (let i = 0; i < 5; i++) expect((await attempt(fetch, `wrong-${i}`)).status).toBe(401);
    t.clock.advance(30);
    judged = 0;
    const statuses = (await Promise.all(Array.from({ length: 10 }, (_, i) => attempt(fetch, `again-${i}`)))).map((r) => r.status);
    expect(judged).toBe(1);
    expect(statuses.sort()).toEqual([401, ...Array(9).fill(429)]);
    t.clock.advance(60);
    broken = true;
    expect((await attempt(fetch, "x")).status).toBe(500);
    broken = false;
    // The thrown check was no failure: the next attempt is judged at once, without a longer wait.
    expect((await attempt(fetch, "y")).status).toBe(401);
    expect((await attempt(fetch, "z")).headers.get("Retry-After")).toBe("120");
  });

  it("limits form posts per address", async () => {
    const t = limitedServer({ rateLimit: { perIp: { login: 2, authorize: 100 } } });
    const fetch = t.from("203.0.113.30");
    await attempt(fetch, "a");
    await attempt(fetch, "b");
    const limited = await attempt(fetch, USER.password);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("Content-Type")).toMatch(/^text\/html/);
  });
});
