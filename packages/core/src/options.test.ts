import { describe, expect, it } from "vitest";
import { config } from "zod/mini";
import { createTestServer } from "../test/helpers.js";
import type { AuthorizationServerOptions } from "./options.js";

/** Options as a caller without types might write them: unknown keys included. */
const loose = (options: Record<string, unknown>) => options as Partial<AuthorizationServerOptions>;

describe("Strict options of createAuthorizationServer", () => {
  it("strict options: an unknown top-level key names itself and the closest key", () => {
    expect(() => createTestServer(loose({ storag: {} }))).toThrow(new TypeError("Portcullis: unknown option `storag`; did you mean `storage`?"));
    expect(() => createTestServer(loose({ accessTokenTtl: 60 }))).toThrow("did you mean `accessTokenTtlSeconds`?");
  });

  it("strict options: an unknown key at depth 2 names its path and the closest key", () => {
    expect(() => createTestServer(loose({ login: { curentUser: async () => null } }))).toThrow(
      new TypeError("Portcullis: unknown option `login.curentUser`; did you mean `login.currentUser`?"),
    );
    expect(() => createTestServer(loose({ outbound: { allowedFetchHost: [] } }))).toThrow("did you mean `outbound.allowedFetchHosts`?");
    expect(() => createTestServer(loose({ dynamicRegistration: { initialAccesToken: "x".repeat(16) } }))).toThrow("`dynamicRegistration.initialAccessToken`");
  });

  it("strict options: an unknown key at depth 3 names its path, whatever its case", () => {
    expect(() => createTestServer(loose({ rateLimit: { perIP: { token: 1 } } }))).toThrow("unknown option `rateLimit.perIP`; did you mean `rateLimit.perIp`?");
    expect(() => createTestServer(loose({ rateLimit: { perIp: { tokn: 1 } } }))).toThrow(
      "unknown option `rateLimit.perIp.tokn`; did you mean `rateLimit.perIp.token`?",
    );
    expect(() => createTestServer(loose({ rateLimit: { login: { maxFailure: 3 } } }))).toThrow("did you mean `rateLimit.login.maxFailures`?");
  });

  it("strict options: a key close to none lists the keys its level takes", () => {
    expect(() => createTestServer(loose({ login: { password: async () => null } }))).toThrow(
      new TypeError("Portcullis: unknown option `login.password`; `login` takes `verifyPassword`, `currentUser`"),
    );
  });

  it("strict options: records of the app's own names and client metadata are open", () => {
    expect(() =>
      createTestServer({
        scopes: { "mcp:tools": "Tools", "files:read": "Read", "files:write": "Write", "any:name": "Anything" },
        clients: [{ client_id: "c1", redirect_uris: ["https://app.example/cb"], client_name: "App", software_id: "x" }],
        rateLimit: { perIp: { token: 10 } },
      }),
    ).not.toThrow();
  });
});

describe("One on/off convention: false turns a feature off, an object configures it", () => {
  it("turns each feature off with false and leaves it on with true or an object", () => {
    const off = createTestServer({ dynamicRegistration: false, clientMetadataDocuments: false, outbound: false, rateLimit: false }).server.metadata();
    expect(off.registration_endpoint).toBeUndefined();
    expect(off.client_id_metadata_document_supported).toBeUndefined();
    const on = createTestServer({ dynamicRegistration: true, clientMetadataDocuments: true, outbound: true, rateLimit: true }).server.metadata();
    expect(on.registration_endpoint).toBe("https://as.test/register");
    expect(on.client_id_metadata_document_supported).toBe(true);
    const configured = createTestServer({
      dynamicRegistration: {},
      clientMetadataDocuments: { maxCacheSeconds: 600 },
      outbound: { timeoutMs: 1000 },
    }).server.metadata();
    expect(configured.registration_endpoint).toBe("https://as.test/register");
    expect(configured.client_id_metadata_document_supported).toBe(true);
  });
});

describe("Option messages", () => {
  it("says in English what is wrong without touching zod's global configuration", () => {
    const before = config().localeError;
    expect(() => createTestServer({ accessTokenTtlSeconds: 0 })).toThrow(
      /^Portcullis: invalid option accessTokenTtlSeconds: Too small: expected number to be >=1$/,
    );
    expect(config().localeError).toBe(before);
  });
});
