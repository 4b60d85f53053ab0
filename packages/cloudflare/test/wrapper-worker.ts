// A test Worker for withPortcullis: a real authorization server (memory store) and a guard whose
// verifier accepts the token "good" (scope mcp:tools) and "narrow" (no scope).
import { createAuthorizationServer, createMemoryStore, createResourceGuard, OAuthError } from "@portcullis/core";
import { withPortcullis } from "../src/index.js";

interface Env {
  ISSUER: string;
}

let setups = 0;

export default withPortcullis<Env>(
  {
    async fetch(request, _env, _ctx, auth) {
      const { pathname } = new URL(request.url);
      if (pathname === "/setups") return Response.json({ setups });
      // Response.redirect has immutable headers: the wrapper must copy it to add CORS.
      if (pathname === "/mcp/redirect") return Response.redirect("https://elsewhere.example/", 302);
      return Response.json({ path: pathname, auth: auth ? { clientId: auth.clientId, scopes: auth.scopes } : null });
    },
  },
  {
    setup(env) {
      setups++;
      const server = createAuthorizationServer({
        issuer: env.ISSUER,
        resource: `${env.ISSUER}/mcp`,
        scopes: { "mcp:tools": "Use the tools" },
        storage: createMemoryStore(),
        login: { verifyPassword: async () => null },
        // Low enough to see the per-address limit within a test.
        rateLimit: { perIp: { register: 2 } },
      });
      const guard = createResourceGuard({
        resource: `${env.ISSUER}/mcp`,
        authorizationServers: [env.ISSUER],
        requiredScopes: ["mcp:tools"],
        verifier: {
          async verifyAccessToken(token) {
            if (token === "good") return { token, clientId: "c1", scopes: ["mcp:tools"] };
            if (token === "narrow") return { token, clientId: "c1", scopes: [] };
            throw new OAuthError("invalid_token", "unknown token");
          },
        },
      });
      return { server, guard };
    },
  },
);
