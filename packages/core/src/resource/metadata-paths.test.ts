import { describe, expect, it } from "vitest";
import { ISSUER } from "../../test/helpers.js";
import { serveOwned } from "../http/serve.js";
import { OAuthError } from "../errors.js";
import type { TokenVerifier } from "../types.js";
import { createResourceGuard } from "./guard.js";

const ORIGIN = "https://mcp.test";
const ROOT = `${ORIGIN}/.well-known/oauth-protected-resource`;
const verifier: TokenVerifier = {
  async verifyAccessToken() {
    throw new OAuthError("invalid_token", "no tokens here");
  },
};
const guardFor = (resource: string) => createResourceGuard({ resource, authorizationServers: [ISSUER], verifier, requiredScopes: ["mcp:tools"] });

/** Serves `url` through {@link serveOwned}, the way every adapter does. */
function serve(handlers: Parameters<typeof serveOwned>[0], url: string) {
  const { pathname } = new URL(url);
  return serveOwned(handlers, { path: pathname, method: "GET", request: () => new Request(url), remoteAddress: () => undefined });
}

describe("Protected resource metadata of several resources on one origin (RFC 9728 §3.1)", () => {
  it("RS-PRM-4: two endpoints (/mcp, /other/mcp): each document at its own path, and the root claimed by neither", async () => {
    const handlers = [guardFor(`${ORIGIN}/mcp`), guardFor(`${ORIGIN}/other/mcp`)];
    const first = (await serve(handlers, `${ROOT}/mcp`))!;
    expect(first.status).toBe(200);
    expect(((await first.json()) as { resource: string }).resource).toBe(`${ORIGIN}/mcp`);
    const second = (await serve(handlers, `${ROOT}/other/mcp`))!;
    expect(((await second.json()) as { resource: string }).resource).toBe(`${ORIGIN}/other/mcp`);
    // Nobody owns the root: the adapter passes it on to the app (a 404 unless the app serves it).
    expect(await serve(handlers, ROOT)).toBeUndefined();
    expect(await serve([...handlers].reverse(), ROOT)).toBeUndefined();
  });

  it("RS-PRM-4: a resource at the origin root is the one the root document describes", async () => {
    for (const resource of [ORIGIN, `${ORIGIN}/`]) {
      const handlers = [guardFor(`${ORIGIN}/mcp`), guardFor(resource)];
      const root = (await serve(handlers, ROOT))!;
      expect(root.status).toBe(200);
      expect(((await root.json()) as { resource: string }).resource).toBe(`${ORIGIN}/`);
    }
  });
});
