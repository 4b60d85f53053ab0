// The application every fuzz suite attacks, the same on the Fetch core and on each adapter: an
// authorization server at `origin`, a guarded `/mcp` whose `admin_echo` tool needs `mcp:admin`,
// and one access token with `mcp:tools` only, minted through a real authorization code flow.
import { createAuthorizationServer, createMemoryStore, createResourceGuard } from "../../../src/index.js";
import type { PropertyContext } from "./harness.js";

export const REDIRECT_URIS = ["http://127.0.0.1/cb", "https://app.test/cb"];

/** The guarded handler's answer: the properties look for it. */
export const REACHED_MCP = { reached: "mcp" } as const;
/** The app's own answer for paths Portcullis does not serve. */
export const REACHED_APP = { reached: "app" } as const;

export function createFuzzTarget(origin: string) {
  const server = createAuthorizationServer({
    issuer: origin,
    resource: `${origin}/mcp`,
    scopes: { "mcp:tools": "Use the tools", "mcp:admin": "Administer", "files:read": "Read files" },
    storage: createMemoryStore(),
    interactionUrl: "/login",
    clients: [
      { client_id: "pub", redirect_uris: [REDIRECT_URIS[0]!], grant_types: ["authorization_code", "refresh_token"] },
      { client_id: "conf", client_secret: "s3cr3t-s3cr3t-s3cr3t", redirect_uris: [REDIRECT_URIS[1]!], grant_types: ["authorization_code", "refresh_token"] },
    ],
    // Every request comes from one address: limits would turn most of a run into 429s.
    rateLimit: false,
    onError: () => {},
  });
  const guard = createResourceGuard({
    resource: `${origin}/mcp`,
    authorizationServers: [origin],
    verifier: server,
    requiredScopes: ["mcp:tools"],
    mcp: { tools: { admin_echo: ["mcp:admin"] } },
    onError: () => {},
  });

  /** An access token with `mcp:tools` only, through /authorize, the app's sign-in and /token. */
  async function mint(): Promise<string> {
    const verifier = "v".repeat(43);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const challenge = btoa(String.fromCharCode(...digest))
      .replaceAll("+", "-")
      .replaceAll("/", "_")
      .replace(/=+$/, "");
    const query = new URLSearchParams({
      response_type: "code",
      client_id: "pub",
      redirect_uri: REDIRECT_URIS[0]!,
      code_challenge: challenge,
      code_challenge_method: "S256",
      scope: "mcp:tools",
      resource: `${origin}/mcp`,
    });
    const authorize = await server.fetch(new Request(`${origin}/authorize?${query}`));
    const requestId = new URL(authorize.headers.get("Location")!, origin).searchParams.get("request_id")!;
    const done = await server.completeAuthorization(requestId, { subject: "alice" });
    const code = new URL(done.headers.get("Location")!).searchParams.get("code")!;
    const response = await server.fetch(
      new Request(`${origin}/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, client_id: "pub", redirect_uri: REDIRECT_URIS[0]! }),
      }),
    );
    const token = ((await response.json()) as { access_token?: string }).access_token;
    if (!token) throw new Error(`could not mint the fuzz suite's token: ${response.status}`);
    return token;
  }

  const context = (validToken: string): PropertyContext => ({ origin, validToken, redirectUris: REDIRECT_URIS });
  return { server, guard, mint, context };
}
