import { describe, expect, it } from "vitest";
import { OAuthError } from "../errors.js";
import { bindResource, configuredResource, isAudience, tokenAudiences, verifySingleResource } from "./resource.js";

const R = "https://mcp.test/mcp";
const OTHER = "https://other.test/mcp";

function targetError(run: () => unknown): OAuthError {
  try {
    run();
  } catch (error) {
    if (error instanceof OAuthError) return error;
    throw error;
  }
  throw new Error("expected an OAuthError");
}

describe("bindResource: a new authorization", () => {
  it("binds the requested resource, canonicalised, when the server protects it (AS-AUTHZ-13)", () => {
    expect(bindResource(R, { protects: [R] })).toBe(R);
    expect(bindResource("HTTPS://MCP.TEST:443/mcp", { protects: [R] })).toBe(R);
    expect(bindResource(OTHER, { protects: [R, OTHER] })).toBe(OTHER);
  });

  it.each(["mcp.test", `${R}#x`, "https://unknown.test", "ftp://mcp.test/mcp", "https://user:pw@mcp.test/mcp", `${R}/`])(
    "answers invalid_target for a malformed or unprotected resource: %s (AS-AUTHZ-13, RS-TOK-8)",
    (requested) => {
      expect(targetError(() => bindResource(requested, { protects: [R] })).code).toBe("invalid_target");
    },
  );

  it("defaults to the single protected resource and requires one when several are protected (AS-AUTHZ-13)", () => {
    expect(bindResource(undefined, { protects: [R] })).toBe(R);
    expect(targetError(() => bindResource(undefined, { protects: [R, OTHER] })).code).toBe("invalid_target");
  });
});

describe("bindResource: a grant already bound", () => {
  it("keeps the authorized resource when none or the same one is asked for (AS-TOKEN-6, AS-RT-5)", () => {
    expect(bindResource(undefined, { authorized: R })).toBe(R);
    expect(bindResource(R, { authorized: R })).toBe(R);
    expect(bindResource("https://MCP.test/mcp", { authorized: R })).toBe(R);
  });

  it.each([OTHER, "not a url", `${R}/`])("answers invalid_target for another resource: %s (AS-TOKEN-6, AS-RT-5)", (requested) => {
    expect(targetError(() => bindResource(requested, { authorized: R })).code).toBe("invalid_target");
  });
});

describe("verifySingleResource", () => {
  it("answers invalid_target when resource is repeated, and passes any other repetition on (AS-AUTHZ-13)", () => {
    expect(targetError(() => verifySingleResource(["scope", "resource"])).code).toBe("invalid_target");
    expect(() => verifySingleResource(["scope"])).not.toThrow();
    expect(() => verifySingleResource([])).not.toThrow();
  });
});

describe("configuredResource", () => {
  it("canonicalises a configured resource and throws a TypeError naming a malformed one", () => {
    expect(configuredResource("HTTPS://MCP.TEST/mcp")).toBe(R);
    expect(() => configuredResource("mcp.test/mcp")).toThrow(TypeError);
    expect(() => configuredResource(`${R}#frag`)).toThrow(/"https:\/\/mcp.test\/mcp#frag"/);
  });
});

describe("token audiences", () => {
  it("accepts only a token whose audience names the resource, as a string or in an array (RS-TOK-1)", () => {
    expect(isAudience(tokenAudiences(R), R)).toBe(true);
    expect(isAudience(tokenAudiences([OTHER, R]), R)).toBe(true);
    expect(isAudience(tokenAudiences(OTHER), R)).toBe(false);
    expect(isAudience(tokenAudiences(undefined), R)).toBe(false);
    expect(isAudience(tokenAudiences([42, null]), R)).toBe(false);
  });

  it("compares scheme and host case-insensitively and the path exactly (RS-TOK-8)", () => {
    expect(isAudience(tokenAudiences("HTTPS://MCP.TEST/mcp"), R)).toBe(true);
    expect(isAudience(tokenAudiences(`${R}/`), R)).toBe(false);
    expect(isAudience(tokenAudiences("https://mcp.test/MCP"), R)).toBe(false);
  });
});
