import { describe, expect, it } from "vitest";
import { authorizationUrl, createTestServer, expectErrorPage, expectTokenError, ISSUER, tokenRequest } from "../../test/helpers.js";
import { isSpecialUseAddress } from "../lib/ip.js";
import { redirectUriMatches, redirectUriProblem } from "../clients/redirect-uri.js";
import { verifyClientIdURL } from "../clients/cimd.js";
import { Params } from "./body.js";

describe("Request limits (issue 6; SPEC-CHECKLIST B10, B22, B33)", () => {
  it("refuses any single parameter over 4 KB with invalid_request, at the token endpoint and at /authorize", async () => {
    const t = createTestServer();
    await expectTokenError(
      await tokenRequest(t.fetch, { grant_type: "authorization_code", client_id: "pub", code: "x", code_verifier: "a".repeat(43), junk: "j".repeat(4097) }),
      "invalid_request",
    );
    await expectErrorPage(await t.fetch((await authorizationUrl({ scope: `mcp:tools ${"s".repeat(4090)}` })).url));
    expect(() => new Params(`a=${"x".repeat(4096)}`)).not.toThrow();
    expect(() => new Params(`${"n".repeat(129)}=1`)).toThrow(/too long/);
  });

  it("decodes form parameters: plain text as is, '+' as a space, percent-escapes, and refuses a malformed escape", () => {
    const params = new Params("grant_type=refresh_token&scope=mcp%3Atools+files&x+y=a%2Bb&token=abc_-.~9");
    expect(params.get("grant_type")).toBe("refresh_token");
    expect(params.get("scope")).toBe("mcp:tools files");
    expect(params.get("x y")).toBe("a+b");
    expect(params.get("token")).toBe("abc_-.~9");
    expect(() => new Params("a=%E0%A4%A")).toThrow(/malformed percent-encoding/);
    expect(() => new Params("a%ZZ=1")).toThrow(/malformed percent-encoding/);
  });

  it("refuses more than 64 parameters", async () => {
    const t = createTestServer();
    const body = Array.from({ length: 65 }, (_, i) => `p${i}=1`).join("&");
    const response = await t.fetch(`${ISSUER}/token`, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body });
    await expectTokenError(response, "invalid_request");
  });

  it("answers a URL over 8 KB with 414 and headers over 16 KB with 431, never 5xx", async () => {
    const t = createTestServer();
    expect((await t.fetch(`${ISSUER}/token?x=${"a".repeat(9000)}`, { method: "POST" })).status).toBe(414);
    const big = await t.fetch(`${ISSUER}/token`, { method: "POST", headers: { "X-Big": "b".repeat(17 * 1024) } });
    expect(big.status).toBe(431);
    expect(big.headers.get("Cache-Control")).toBe("no-store");
    const many = await t.fetch(`${ISSUER}/token`, {
      method: "POST",
      headers: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`X-H${i}`, "h".repeat(1000)])),
    });
    expect(many.status).toBe(431);
  });

  it("answers pathological inputs to every attacker-facing pattern without backtracking (CVE-2026-0621 class, PEERS #18)", () => {
    // Each of these would take minutes on a backtracking pattern; linear ones return at once.
    const n = 50_000;
    expect(isSpecialUseAddress(`${"%".repeat(n)}\n`)).toBe(true);
    expect(isSpecialUseAddress(`[${":".repeat(n)}]`)).toBe(true);
    expect(redirectUriMatches("http://127.0.0.1/cb", `http://127.0.0.1${"a".repeat(n)}#`)).toBe(false);
    expect(redirectUriMatches("http://localhost/cb", `http://localhost${"1".repeat(n)}x`)).toBe(false);
    expect(redirectUriProblem(`https://${"a".repeat(n)}`)).toBeDefined();
    expect(() => verifyClientIdURL(`https://a.test/${"%2e".repeat(n)}`, {})).toThrow();
  });
});
