import { describe, expect, it } from "vitest";
import { createTestServer, ISSUER, RESOURCE } from "../../test/helpers.js";
import { createResourceGuard, type ResourceGuardOptions } from "./guard.js";
import { createJWTVerifier, jwtTokenVerifier, type JWTVerifierOptions } from "./jwt-verifier.js";

const verifier = createTestServer().server;
const guardWith = (options: Record<string, unknown>) => () => createResourceGuard(options as unknown as ResourceGuardOptions);
const jwtWith = (options: Record<string, unknown>) => () => jwtTokenVerifier(options as unknown as JWTVerifierOptions);

describe("Strict options of createResourceGuard", () => {
  it("names a missing or mistyped verifier and how to make one", () => {
    expect(guardWith({ resource: RESOURCE, authorizationServers: [ISSUER] })).toThrow(
      new TypeError(
        "Portcullis: verifier is required: the authorization server itself, createRemoteVerifier({ issuer }) for an external one, or jwtTokenVerifier({ issuer, jwks })",
      ),
    );
    expect(guardWith({ resource: RESOURCE, authorizationServers: [ISSUER], verifier: {} })).toThrow(/^Portcullis: verifier is required/);
  });

  it("names missing, empty or mistyped authorizationServers", () => {
    for (const authorizationServers of [[], ISSUER, [42]]) {
      expect(guardWith({ resource: RESOURCE, authorizationServers, verifier })).toThrow(
        /^Portcullis: authorizationServers is required: a non-empty list of the issuers/,
      );
    }
    // Without the option, the verifier's own issuer, when it names one.
    const anonymous = { verifyAccessToken: verifier.verifyAccessToken.bind(verifier) };
    expect(guardWith({ resource: RESOURCE, verifier: anonymous })).toThrow(/^Portcullis: authorizationServers is required/);
    expect(createResourceGuard({ resource: RESOURCE, verifier }).metadata().authorization_servers).toEqual([verifier.issuer]);
  });

  it("names a missing resource", () => {
    expect(guardWith({ authorizationServers: [ISSUER], verifier })).toThrow(/^Portcullis: resource is required/);
    expect(() => createResourceGuard(undefined as unknown as ResourceGuardOptions)).toThrow(TypeError);
  });

  it("strict options: an unknown key names itself and the closest key, at depth 2 too", () => {
    expect(guardWith({ resource: RESOURCE, authorizationServers: [ISSUER], verifier, requiredScope: ["mcp:tools"] })).toThrow(
      new TypeError("Portcullis: unknown option `requiredScope`; did you mean `requiredScopes`?"),
    );
    expect(guardWith({ resource: RESOURCE, authorizationServers: [ISSUER], verifier, mcp: { tool: {} } })).toThrow(
      "unknown option `mcp.tool`; did you mean `mcp.tools`?",
    );
  });

  it("strict options: scope maps are the app's own records", () => {
    expect(
      guardWith({
        resource: RESOURCE,
        authorizationServers: [ISSUER],
        verifier,
        scopeHierarchy: { "mcp:admin": ["mcp:tools"] },
        mcp: { methods: { "tools/list": ["mcp:tools"] }, tools: { constructor: ["mcp:admin"], anyTool: [] } },
      }),
    ).not.toThrow();
  });
});

describe("Strict options of the JWT verifier", () => {
  const jwks = async () => ({ keys: [] });

  it("strict options: an unknown key names itself and the key it begins", () => {
    expect(jwtWith({ issuer: ISSUER, jwks, clockTolerance: 5 })).toThrow(
      new TypeError("Portcullis: unknown option `clockTolerance`; did you mean `clockToleranceSeconds`?"),
    );
    expect(() => createJWTVerifier({ issuer: ISSUER, jwks, algorithm: ["ES256"] } as unknown as JWTVerifierOptions)).toThrow("did you mean `algorithms`?");
  });

  it("names a missing issuer or jwks and what they take", () => {
    expect(jwtWith({ jwks })).toThrow(/^Portcullis: issuer is required/);
    expect(jwtWith({ issuer: ISSUER })).toThrow(/^Portcullis: jwks is required: the issuer's jwks_uri as a URL/);
    expect(jwtWith({ issuer: ISSUER, jwks: "https://as.test/jwks" })).toThrow(/^Portcullis: jwks is required/);
    expect(jwtWith({ issuer: ISSUER, jwks, cacheSize: 0 })).toThrow("Portcullis: cacheSize must be a positive integer");
  });
});
