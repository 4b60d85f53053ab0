import { describe, expect, it } from "vitest";
import { createTestServer } from "../../test/helpers.js";
import type { UpstreamOptions } from "../options.js";

const KEY = "A".repeat(43);
const upstream = (overrides: Partial<UpstreamOptions> = {}) => ({
  login: undefined,
  upstream: { issuer: "https://idp.example", clientId: "portcullis", tokenEncryptionKeys: KEY, ...overrides },
});

describe("upstream options (checked at construction)", () => {
  it("accepts an https provider, and http only on loopback", () => {
    expect(() => createTestServer(upstream())).not.toThrow();
    expect(() => createTestServer(upstream({ issuer: "http://127.0.0.1:9000" }))).not.toThrow();
    expect(() => createTestServer(upstream({ issuer: "http://idp.example" }))).toThrow("http only on a loopback host");
    expect(() => createTestServer(upstream({ issuer: "ftp://idp.example" }))).toThrow("must use https");
  });

  it("needs a 32-byte base64url encryption key, and distinct key ids", () => {
    expect(() => createTestServer(upstream({ tokenEncryptionKeys: "short" }))).toThrow("32 random bytes");
    expect(() =>
      createTestServer(
        upstream({
          tokenEncryptionKeys: [
            { id: "a", key: KEY },
            { id: "a", key: "B".repeat(43) },
          ],
        }),
      ),
    ).toThrow("key id a given twice");
  });

  it("is exclusive with login and interactionUrl, and refuses to let authorizationParams replace its own parameters", () => {
    expect(() => createTestServer({ ...upstream(), login: { currentUser: async () => null } })).toThrow("without login or interactionUrl");
    expect(() => createTestServer(upstream({ authorizationParams: { state: "x" } }))).toThrow("may not set state");
    expect(() => createTestServer(upstream({ authorizationParams: { access_type: "offline" } }))).not.toThrow();
  });

  it("needs a userinfo endpoint for a provider without discovery", () => {
    expect(() => createTestServer(upstream({ endpoints: { authorization: "https://idp.example/authorize", token: "https://idp.example/token" } }))).toThrow(
      "needs userinfo",
    );
  });
});
