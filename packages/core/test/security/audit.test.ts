import { describe, expect, it } from "vitest";
import {
  authorizationUrl,
  basic,
  CONF_SECRET,
  createClock,
  createTestServer,
  ISSUER,
  obtainCode,
  obtainConfidentialTokens,
  readConsentPage,
  tokenRequest,
  USER,
} from "../helpers.js";
import { createMemoryStore } from "../../src/storage/memory.js";

describe("Audit events (onEvent; issue 6)", () => {
  it("reports registration, codes, tokens, refresh, revocation, replays, failed logins and rate limits, with no secret in any event", async () => {
    const clock = createClock(Date.UTC(2030, 0, 1));
    const t = createTestServer({ now: clock.now, storage: createMemoryStore({ now: clock.now }), rateLimit: { perIp: { token: 20 } } });
    const secrets: string[] = [USER.password, CONF_SECRET];
    const remember = (...values: (string | undefined | null)[]) => secrets.push(...values.filter((v): v is string => typeof v === "string" && v.length > 0));

    // Registration: the issued secret and registration access token.
    const registered = (await (
      await t.fetch(`${ISSUER}/register`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ redirect_uris: ["https://reg.test/cb"], client_name: "registered" }),
      })
    ).json()) as Record<string, string>;
    remember(registered.client_secret, registered.registration_access_token);

    // A failed login (the wrong password is a secret too), then a sign-in, a code, tokens.
    const { url } = await authorizationUrl({});
    const page = await readConsentPage(await t.fetch(url));
    remember(page.csrf, page.cookie.split("=")[1]);
    const wrong = "hunter2-wrong-password";
    remember(wrong);
    await t.fetch(`${ISSUER}/authorize/consent`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: page.cookie },
      body: new URLSearchParams({ request_id: page.requestId, csrf_token: page.csrf, username: USER.username, password: wrong, decision: "allow" }),
    });
    const { code, verifier } = await obtainCode(t.fetch);
    remember(code, verifier);
    const tokens = (await (
      await tokenRequest(t.fetch, { grant_type: "authorization_code", code, code_verifier: verifier, client_id: "pub" })
    ).json()) as Record<string, string>;
    remember(tokens.access_token, tokens.refresh_token);
    // A code replay.
    await tokenRequest(t.fetch, { grant_type: "authorization_code", code, code_verifier: verifier, client_id: "pub" });

    // Confidential client: refresh, a retry within the interval, revocation.
    const conf = await obtainConfidentialTokens(t.fetch);
    remember(conf.access_token, conf.refresh_token);
    const refreshBody = { grant_type: "refresh_token", refresh_token: conf.refresh_token! };
    const refreshed = (await (await tokenRequest(t.fetch, refreshBody, { Authorization: basic("conf", CONF_SECRET) })).json()) as Record<string, string>;
    remember(refreshed.access_token, refreshed.refresh_token);
    await tokenRequest(t.fetch, refreshBody, { Authorization: basic("conf", CONF_SECRET) });
    await t.fetch(`${ISSUER}/revoke`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: basic("conf", CONF_SECRET) },
      body: new URLSearchParams({ token: refreshed.refresh_token! }),
    });
    // Failed client authentication with a guessed secret.
    const guessed = "guessed-secret-guessed-secret";
    remember(guessed);
    await tokenRequest(t.fetch, refreshBody, { Authorization: basic("conf", guessed) });
    // A rate limit.
    for (let i = 0; i < 25; i++) {
      await t.server.fetch(
        new Request(`${ISSUER}/token`, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: "grant_type=refresh_token&refresh_token=x&client_id=pub",
        }),
        { remoteAddress: "203.0.113.99" },
      );
    }

    const types = new Set(t.events.map((e) => e.type));
    for (const type of [
      "client.registered",
      "authorization.requested",
      "login.failed",
      "code.issued",
      "token.issued",
      "token.refreshed",
      "token.revoked",
      "grant.revoked",
      "replay.detected",
      "client_auth.failed",
      "rate_limited",
    ]) {
      expect(types, type).toContain(type);
    }
    const log = t.events.map((e) => JSON.stringify(e)).join("\n");
    for (const secret of secrets) expect(log, `an event carries ${secret.slice(0, 8)}...`).not.toContain(secret);
  });
});
