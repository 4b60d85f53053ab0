import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One defect a fake server can have; each breaks exactly one `portcullis check` item. */
export type Defect =
  | "open" // 200 to an unauthenticated POST
  | "no-challenge" // 401 without WWW-Authenticate
  | "no-resource-metadata" // Bearer challenge without resource_metadata (well-known still served)
  | "resource-mismatch" // PRM resource names another server
  | "no-authorization-servers" // PRM without authorization_servers
  | "no-as-metadata" // no RFC 8414 / OIDC metadata
  | "issuer-mismatch" // metadata issuer with a trailing slash
  | "no-pkce" // no code_challenge_methods_supported
  | "no-registration" // neither registration_endpoint nor CIMD
  | "registration-broken" // /register answers 500
  | "registration-200" // /register answers 200 instead of 201
  | "token-error-500" // a bogus code gets 500
  | "token-error-no-store" // a bogus code gets 400 invalid_grant without Cache-Control: no-store
  | "token-error-wrong-code" // a bogus code gets 400 invalid_request
  | "open-redirect" // /authorize redirects to an unregistered redirect_uri
  | "no-iss-support" // authorization_response_iss_parameter_supported absent
  | "link-local-metadata" // the challenge's resource_metadata points at the cloud metadata address
  | "path-issuer"; // the authorization server's issuer has a path (/tenant), metadata only at the OIDC path-appended URL

/** How the fake /authorize answers a registered client: a code, with `iss` as given. */
export type IssMode = "correct" | "missing" | "trailing-slash" | "other";

export interface FakeServer {
  origin: string;
  mcpUrl: string;
  /** Every request seen: method, path and, for form posts, the parsed body. */
  log: { method: string; path: string; query: URLSearchParams; form?: URLSearchParams; json?: unknown }[];
  issMode: IssMode;
  close(): Promise<void>;
}

/**
 * A small MCP server with its own authorization server, correct by the specs unless given a
 * defect. Codes are redeemed once for `fake-access-N` / `fake-refresh-N` (rotating).
 */
export async function startFakeServer(defects: Defect[] = []): Promise<FakeServer> {
  const has = (d: Defect) => defects.includes(d);
  const clients = new Map<string, string[]>();
  const codes = new Map<string, { clientId: string; redirectUri: string; resource: string | null }>();
  const access = new Set<string>();
  const refresh = new Set<string>();
  let n = 0;
  const state: FakeServer = { origin: "", mcpUrl: "", log: [], issMode: "correct", close: async () => undefined };

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "Content-Type": "application/json", ...headers }).end(JSON.stringify(body));
  };
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let data = "";
      req.on("data", (c) => (data += c));
      req.on("end", () => resolve(data));
    });
  const issuer = () => (has("path-issuer") ? `${state.origin}/tenant` : state.origin);

  const server = createServer(async (req, res) => {
    const url = new URL(req.url!, state.origin);
    const body = req.method === "POST" ? await read(req) : "";
    const entry: FakeServer["log"][number] = { method: req.method!, path: url.pathname, query: url.searchParams };
    if (req.headers["content-type"]?.startsWith("application/x-www-form-urlencoded")) entry.form = new URLSearchParams(body);
    if (req.headers["content-type"]?.startsWith("application/json")) entry.json = JSON.parse(body || "null");
    state.log.push(entry);
    const iss = issuer();
    const prmPath = "/.well-known/oauth-protected-resource/mcp";

    if (url.pathname === "/mcp") {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      if (has("open") || (token && access.has(token))) return json(res, 200, { jsonrpc: "2.0", id: 1, result: { ok: true, token } });
      if (has("no-challenge")) return res.writeHead(401).end();
      const rm = has("no-resource-metadata")
        ? ""
        : has("link-local-metadata")
          ? ', resource_metadata="http://169.254.169.254/latest/meta-data"'
          : `, resource_metadata="${state.origin}${prmPath}"`;
      return res.writeHead(401, { "WWW-Authenticate": `Bearer realm="mcp"${rm}${token ? ', error="invalid_token"' : ""}` }).end();
    }
    if (url.pathname === prmPath) {
      return json(res, 200, {
        resource: has("resource-mismatch") ? "https://evil.test/mcp" : state.mcpUrl,
        ...(has("no-authorization-servers") ? {} : { authorization_servers: [iss] }),
        scopes_supported: ["mcp:tools"],
      });
    }
    const metadataPath = has("path-issuer") ? "/tenant/.well-known/openid-configuration" : "/.well-known/oauth-authorization-server";
    if (url.pathname === metadataPath && !has("no-as-metadata")) {
      return json(res, 200, {
        issuer: has("issuer-mismatch") ? `${iss}/` : iss,
        authorization_endpoint: `${state.origin}/authorize`,
        token_endpoint: `${state.origin}/token`,
        revocation_endpoint: `${state.origin}/revoke`,
        ...(has("no-registration") ? {} : { registration_endpoint: `${state.origin}/register` }),
        response_types_supported: ["code"],
        grant_types_supported: ["authorization_code", "refresh_token"],
        token_endpoint_auth_methods_supported: ["none"],
        ...(has("no-pkce") ? {} : { code_challenge_methods_supported: ["S256"] }),
        ...(has("no-iss-support") ? {} : { authorization_response_iss_parameter_supported: true }),
        ...(has("path-issuer")
          ? { jwks_uri: `${state.origin}/jwks`, subject_types_supported: ["public"], id_token_signing_alg_values_supported: ["RS256"] }
          : {}),
      });
    }
    if (url.pathname === "/register" && req.method === "POST" && !has("no-registration")) {
      if (has("registration-broken")) return res.writeHead(500, { "Content-Type": "text/plain" }).end("oops");
      const meta = (entry.json ?? {}) as { redirect_uris?: string[] };
      const clientId = `client-${crypto.randomUUID()}`;
      clients.set(clientId, meta.redirect_uris ?? []);
      return json(res, has("registration-200") ? 200 : 201, { ...meta, client_id: clientId, token_endpoint_auth_method: "none" });
    }
    if (url.pathname === "/authorize") {
      const q = url.searchParams;
      const redirect = q.get("redirect_uri") ?? "";
      const registered = clients.get(q.get("client_id") ?? "");
      if (has("open-redirect") || (registered && registered.includes(redirect))) {
        const target = new URL(redirect);
        if (!registered || !registered.includes(redirect)) {
          target.searchParams.set("error", "invalid_request");
        } else {
          const code = `code-${++n}`;
          codes.set(code, { clientId: q.get("client_id")!, redirectUri: redirect, resource: q.get("resource") });
          target.searchParams.set("code", code);
          if (state.issMode === "correct") target.searchParams.set("iss", iss);
          if (state.issMode === "trailing-slash") target.searchParams.set("iss", `${iss}/`);
          if (state.issMode === "other") target.searchParams.set("iss", "https://other.test");
        }
        if (q.get("state")) target.searchParams.set("state", q.get("state")!);
        return res.writeHead(302, { Location: target.href }).end();
      }
      return res.writeHead(400, { "Content-Type": "text/html" }).end("<p>invalid redirect_uri or client</p>");
    }
    if (url.pathname === "/token" && req.method === "POST") {
      const form = entry.form ?? new URLSearchParams();
      const noStore: Record<string, string> = has("token-error-no-store") ? {} : { "Cache-Control": "no-store" };
      const issue = () => {
        const a = `fake-access-${++n}`;
        const r = `fake-refresh-${n}`;
        access.add(a);
        refresh.add(r);
        return json(
          res,
          200,
          { access_token: a, token_type: "Bearer", expires_in: 3600, refresh_token: r, scope: "mcp:tools" },
          { "Cache-Control": "no-store" },
        );
      };
      if (form.get("grant_type") === "authorization_code") {
        const code = codes.get(form.get("code") ?? "");
        codes.delete(form.get("code") ?? "");
        if (code) return issue();
        if (has("token-error-500")) return res.writeHead(500, { "Content-Type": "text/plain" }).end("error");
        if (has("token-error-wrong-code")) return json(res, 400, { error: "invalid_request" }, noStore);
        return json(res, 400, { error: "invalid_grant" }, noStore);
      }
      if (form.get("grant_type") === "refresh_token" && refresh.delete(form.get("refresh_token") ?? "")) return issue();
      return json(res, 400, { error: "invalid_grant" }, noStore);
    }
    if (url.pathname === "/revoke" && req.method === "POST") {
      const token = entry.form?.get("token") ?? "";
      access.delete(token);
      refresh.delete(token);
      return res.writeHead(200).end();
    }
    res.writeHead(404, { "Content-Type": "text/plain" }).end("not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  state.origin = `http://127.0.0.1:${port}`;
  state.mcpUrl = `${state.origin}/mcp`;
  state.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return state;
}
