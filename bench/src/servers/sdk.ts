/**
 * The MCP TypeScript SDK v1 baselines, on Express 5.
 *
 * argv[2] {"mode":"bearer"}: `requireBearerAuth` with a jose ES256 verifier (the public key
 * imported once; every request verifies the signature, as the SDK has no cache).
 * argv[2] {"mode":"router","refreshTokens":N}: `mcpAuthRouter` with an in-memory provider written
 * here (opaque tokens in Maps, refresh tokens rotated), rate limits off; N refresh tokens
 * pre-issued for the load generator, or those of the file "refreshTokenFile" names (the harness
 * pairs this baseline's runs with a server's whose token file that is).
 */
import { randomBytes, randomUUID } from "node:crypto";
import express, { type Response as ExpressResponse } from "express";
import { generateKeyPair, jwtVerify, SignJWT } from "jose";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import { mcpAuthRouter } from "@modelcontextprotocol/sdk/server/auth/router.js";
import { InvalidGrantError, InvalidTokenError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import type { OAuthRegisteredClientsStore } from "@modelcontextprotocol/sdk/server/auth/clients.js";
import type { AuthorizationParams, OAuthServerProvider } from "@modelcontextprotocol/sdk/server/auth/provider.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import type { OAuthClientInformationFull, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { argConfig, fail, listenLoopback, refreshTokensFor, reportReady, writeLines } from "./common.js";

interface TokenRecord {
  clientId: string;
  scopes: string[];
  resource: string;
  expiresAt?: number;
}

/** An in-memory provider: opaque tokens in Maps, refresh tokens rotated on use. */
class MemoryProvider implements OAuthServerProvider {
  readonly clients = new Map<string, OAuthClientInformationFull>();
  readonly refreshTokens = new Map<string, TokenRecord>();
  readonly accessTokens = new Map<string, TokenRecord>();
  readonly clientsStore: OAuthRegisteredClientsStore = {
    getClient: (clientId) => this.clients.get(clientId),
    registerClient: (client) => {
      const full = client as OAuthClientInformationFull;
      this.clients.set(full.client_id, full);
      return full;
    },
  };

  async authorize(_client: OAuthClientInformationFull, _params: AuthorizationParams, res: ExpressResponse): Promise<void> {
    res.status(501).json({ error: "not used by the benchmark" });
  }
  async challengeForAuthorizationCode(): Promise<string> {
    throw new Error("not used by the benchmark");
  }
  async exchangeAuthorizationCode(): Promise<OAuthTokens> {
    throw new Error("not used by the benchmark");
  }
  async exchangeRefreshToken(client: OAuthClientInformationFull, refreshToken: string, scopes?: string[]): Promise<OAuthTokens> {
    const record = this.refreshTokens.get(refreshToken);
    if (!record || record.clientId !== client.client_id) throw new InvalidGrantError("invalid refresh token");
    this.refreshTokens.delete(refreshToken);
    const granted = scopes ?? record.scopes;
    const accessToken = randomBytes(32).toString("base64url");
    const next = randomBytes(32).toString("base64url");
    this.accessTokens.set(accessToken, { ...record, scopes: granted, expiresAt: Math.floor(Date.now() / 1000) + 3600 });
    this.refreshTokens.set(next, record);
    return { access_token: accessToken, token_type: "bearer", expires_in: 3600, refresh_token: next, scope: granted.join(" ") };
  }
  async verifyAccessToken(token: string): Promise<AuthInfo> {
    const record = this.accessTokens.get(token);
    if (!record) throw new InvalidTokenError("invalid token");
    return {
      token,
      clientId: record.clientId,
      scopes: record.scopes,
      ...(record.expiresAt ? { expiresAt: record.expiresAt } : {}),
      resource: new URL(record.resource),
    };
  }
}

const config = argConfig<{ mode: "bearer" | "router"; refreshTokens?: number; refreshTokenFile?: string }>();
const { port, origin, attach } = await listenLoopback();
const resource = `${origin}/mcp`;
const app = express();

if (config.mode === "bearer") {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const verifier = {
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      const { payload } = await jwtVerify(token, publicKey, { issuer: origin, audience: resource, algorithms: ["ES256"], typ: "at+jwt" });
      return {
        token,
        clientId: String(payload.client_id),
        scopes: typeof payload.scope === "string" ? payload.scope.split(" ") : [],
        ...(payload.exp !== undefined ? { expiresAt: payload.exp } : {}),
        resource: new URL(resource),
      };
    },
  };
  app.post(
    "/mcp",
    requireBearerAuth({
      verifier,
      requiredScopes: ["mcp:tools"],
      resourceMetadataUrl: `${origin}/.well-known/oauth-protected-resource/mcp`,
      expectedResource: new URL(resource),
    }),
    (_req, res) => void res.json({ ok: true }),
  );
  const token = await new SignJWT({ client_id: "pub", scope: "mcp:tools" })
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "k1" })
    .setIssuer(origin)
    .setSubject("alice")
    .setAudience(resource)
    .setIssuedAt()
    .setExpirationTime("1h")
    .setJti(randomUUID())
    .sign(privateKey);
  attach(app);
  await reportReady({ port, token });
} else if (config.mode === "router") {
  const provider = new MemoryProvider();
  provider.clients.set("pub", {
    client_id: "pub",
    redirect_uris: ["http://127.0.0.1:33418/callback"],
    token_endpoint_auth_method: "none",
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
  });
  const refreshTokens = refreshTokensFor(config.refreshTokenFile, config.refreshTokens ?? 0, () => randomBytes(32).toString("base64url"));
  for (const token of refreshTokens) provider.refreshTokens.set(token, { clientId: "pub", scopes: ["mcp:tools"], resource });
  app.use(
    mcpAuthRouter({
      provider,
      issuerUrl: new URL(origin),
      resourceServerUrl: new URL(resource),
      scopesSupported: ["mcp:tools"],
      authorizationOptions: { rateLimit: false },
      tokenOptions: { rateLimit: false },
      clientRegistrationOptions: { rateLimit: false },
      revocationOptions: { rateLimit: false },
    }),
  );
  attach(app);
  await reportReady({ port, files: { refreshTokens: await writeLines("sdk-refresh", refreshTokens) } });
} else {
  fail(`unknown mode ${String(config.mode)}`);
}
