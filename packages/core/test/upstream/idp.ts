/**
 * A real OpenID provider for tests: panva's `oidc-provider` (certified), on loopback, with a
 * pre-registered client, short token lifetimes, revocation and introspection on, and its
 * development login and consent pages (any login name and password sign in). `startTestIdp()`
 * answers its issuer, the client, counters of what it was asked, and `stop()`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Provider, { type Configuration } from "oidc-provider";

export interface TestIdpClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  token_endpoint_auth_method?: string;
  grant_types?: string[];
}

export interface TestIdpOptions {
  /** Pre-registered clients. Default: none (give the redirect URI of the server under test). */
  clients?: TestIdpClient[];
  /** Access token lifetime in seconds. Default 60. */
  accessTokenTtlSeconds?: number;
  /** Whether `/.well-known/openid-configuration` answers (false: 404, so RFC 8414 discovery must be used). Default true. */
  oidcDiscovery?: boolean;
  /** Merged into the provider's configuration last; its `features` are merged with the defaults (DCR, resource indicators, ...). */
  configuration?: Configuration;
}

export interface TestIdp {
  issuer: string;
  provider: Provider;
  /** Successful token endpoint answers by grant type, revocations, userinfo calls. */
  counts: { authorization_code: number; refresh_token: number; revocations: number; userinfo: number };
  /** Every access and refresh token value it issued (opaque tokens: their value is their id). */
  issuedTokens: string[];
  /** The claims the provider gives for a login name. */
  claimsOf(login: string): Record<string, unknown>;
  stop(): Promise<void>;
}

/** What a login name signs in as: `sub` is the name, with an email and a display name. */
export function testIdpClaims(login: string): Record<string, unknown> {
  return { sub: login, email: `${login}@idp.example`, email_verified: true, name: `Test ${login}`, preferred_username: login };
}

export async function startTestIdp(options: TestIdpOptions = {}): Promise<TestIdp> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.writeHead(503).end();
  };
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const counts = { authorization_code: 0, refresh_token: 0, revocations: 0, userinfo: 0 };
  const configuration: Configuration = {
    clients: (options.clients ?? []).map((c) => ({ grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], ...c })),
    findAccount: (_ctx, id) => ({ accountId: id, claims: () => testIdpClaims(id) as { sub: string } }),
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "preferred_username"] },
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
    },
    ttl: { AccessToken: options.accessTokenTtlSeconds ?? 60, IdToken: 600, RefreshToken: 3600, Grant: 3600, Session: 3600, Interaction: 600 },
    cookies: { keys: ["test-idp-cookie-key-0123456789abcdef"] },
    ...options.configuration,
    ...(options.configuration?.features
      ? { features: { devInteractions: { enabled: true }, revocation: { enabled: true }, introspection: { enabled: true }, ...options.configuration.features } }
      : {}),
  };
  const provider = new Provider(issuer, configuration);
  const viaRFC8414 = new WeakSet<object>();
  const issuedTokens: string[] = [];
  for (const event of ["access_token.saved", "refresh_token.saved"]) {
    provider.on(event, (token) => issuedTokens.push((token as unknown as { jti: string }).jti));
  }
  provider.on("grant.success", (ctx) => {
    const type = (ctx.oidc.params as { grant_type?: string } | undefined)?.grant_type;
    if (type === "authorization_code" || type === "refresh_token") counts[type]++;
  });
  provider.use(async (ctx, next) => {
    if (options.oidcDiscovery === false && ctx.path === "/.well-known/openid-configuration" && !viaRFC8414.has(ctx.req)) {
      ctx.status = 404;
      return;
    }
    await next();
    if (ctx.method === "POST" && ctx.path === "/token/revocation" && ctx.status === 200) counts.revocations++;
    if (ctx.path === "/me" && ctx.status === 200) counts.userinfo++;
  });
  // RFC 8414 metadata at the well-known path oidc-provider does not serve by itself: the same document.
  const callback = provider.callback();
  handler = (req, res) => {
    if (req.url === "/.well-known/oauth-authorization-server") {
      req.url = "/.well-known/openid-configuration";
      viaRFC8414.add(req);
    }
    callback(req, res);
  };
  return {
    issuer,
    provider,
    counts,
    issuedTokens,
    claimsOf: testIdpClaims,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
