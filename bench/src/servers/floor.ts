/**
 * Floors: the least an endpoint can cost while meeting what Portcullis must meet, with no
 * authorization server around it. They bound the ratios the refresh and registration targets ask
 * for against the MCP SDK, whose provider here keeps opaque tokens in plain Maps.
 *
 * argv[2] {"mode":"refresh","framework":"hono"|"node","refreshTokens":N}: POST /token reads the
 * form, looks the refresh token up by its SHA-256 in a Map, replaces it by a new random token
 * (stored by its SHA-256), signs an ES256 JWT access token and answers the token JSON with
 * `no-store`. Hashing takes `node:crypto` synchronously; the signature is WebCrypto's, a
 * thread-pool job (under load it beat `node:crypto`'s synchronous sign on this host: 2.2–2.5×
 * against 1.7–1.8× the SDK for the Hono floor), with no JWT library: the compact serialization
 * by hand. No client authentication, spent-token record, retry record, grant
 * lookup, scope check or store wrapper. N tokens are pre-issued for the load generator (or
 * those of "refreshTokenFile", as for the SDK's baseline).
 *
 * argv[2] {"mode":"refresh-duties",...}: the same, plus the least that does what Portcullis's
 * refresh must do besides (RFC 9700 §4.14.2 and the retry contract), all in plain Maps: the
 * client looked up by `client_id` and checked to hold the refresh grant, the grant read and its
 * resource taken as the audience, the asked scope checked against the token's, a spent record
 * for reuse detection, and the retry record: the successor sealed with ChaCha20-Poly1305 under a
 * key HMAC-SHA-256 derives from the presented token (`node:crypto`, as Portcullis does in Node).
 * What it still leaves out: the store port (values kept as JSON, the namespace and error
 * wrappers), Fetch objects beyond those above, the Host check, events, the consent's last use.
 *
 * argv[2] {"mode":"register","framework":"hono"|"node"}: POST /register parses the JSON body,
 * checks `redirect_uris` is a non-empty list of strings, gives the client a random id, keeps it
 * in a Map and answers 201 with it. No other metadata check.
 *
 * argv[2] {"mode":"register-duties",...}: the same, plus the least of what Portcullis's
 * registration must do besides: each redirect URI parsed (no fragment, http only on loopback),
 * the grant types, response types, authentication method and string members checked, and a
 * registration access token (RFC 7592) issued and kept by its SHA-256 (a client secret too, for a
 * client that authenticates with one), with the registration's management URI.
 *
 * `framework` "hono" serves it on bare Hono (@hono/node-server) through the Fetch objects every
 * Portcullis adapter builds (a `Request` and its `Headers`, a `Response`), the body read straight
 * from Node's stream as Portcullis's adapters read it; "node" on bare node:http, with no Fetch
 * objects at all.
 */
import { createCipheriv, createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { argConfig, fail, listenLoopback, refreshTokensFor, reportReady, writeLines } from "./common.js";

interface Answer {
  status: number;
  body: unknown;
}

const {
  mode,
  framework,
  refreshTokens: count = 0,
  refreshTokenFile,
} = argConfig<{
  mode: "refresh" | "refresh-duties" | "register" | "register-duties";
  framework: "hono" | "node";
  refreshTokens?: number;
  refreshTokenFile?: string;
}>();
const { port, origin, attach } = await listenLoopback();
const sha256 = (text: string) => createHash("sha256").update(text).digest("base64url");
const randomToken = () => randomBytes(32).toString("base64url");
const base64urlJSON = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const AUTH_METHODS = new Set(["none", "client_secret_basic", "client_secret_post"]);

let path: string;
let answer: (body: string) => Answer | Promise<Answer>;
const ready: Parameters<typeof reportReady>[0] = { port };

if (mode === "refresh" || mode === "refresh-duties") {
  path = "/token";
  const duties = mode === "refresh-duties";
  const resource = `${origin}/mcp`;
  const { privateKey } = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"])) as CryptoKeyPair;
  const header = base64urlJSON({ alg: "ES256", typ: "at+jwt", kid: "k1" });
  const records = new Map<string, { clientId: string; grantId: string; scopes: string[] }>();
  const issued = refreshTokensFor(refreshTokenFile, count, randomToken);
  for (const token of issued) records.set(sha256(token), { clientId: "pub", grantId: "g1", scopes: ["mcp:tools"] });
  const clients = new Map([["pub", { grantTypes: ["authorization_code", "refresh_token"] }]]);
  const fixedGrant = { subject: "alice", resource, revoked: false };
  const grants = new Map([["g1", { ...fixedGrant }]]);
  const spent = new Map<string, object>();
  const retries = new Map<string, string>();
  const info = Buffer.from("floor/refresh-successor\x01");
  answer = async (text) => {
    const form = new URLSearchParams(text);
    const presented = form.get("refresh_token");
    if (form.get("grant_type") !== "refresh_token" || !presented) return { status: 400, body: { error: "invalid_request" } };
    const clientId = form.get("client_id") ?? "";
    if (duties && !clients.get(clientId)?.grantTypes.includes("refresh_token")) return { status: 401, body: { error: "invalid_client" } };
    const hash = sha256(presented);
    const record = records.get(hash);
    if (!record || record.clientId !== clientId) return { status: 400, body: { error: "invalid_grant" } };
    let grant = fixedGrant;
    if (duties) {
      const held = grants.get(record.grantId);
      if (!held || held.revoked) return { status: 400, body: { error: "invalid_grant" } };
      const asked = form.get("scope")?.split(" ") ?? record.scopes;
      if (!asked.every((scope) => record.scopes.includes(scope))) return { status: 400, body: { error: "invalid_scope" } };
      grant = held;
    }
    records.delete(hash);
    const next = randomToken();
    records.set(sha256(next), record);
    if (duties) {
      spent.set(hash, { ...record, spentAt: Date.now(), asked: form.get("scope") });
      const nonce = randomBytes(12);
      const cipher = createCipheriv("chacha20-poly1305", createHmac("sha256", presented).update(info).digest(), nonce, { authTagLength: 16 });
      const ciphertext = cipher.update(Buffer.from(next, "base64url"));
      cipher.final();
      retries.set(hash, Buffer.concat([nonce, ciphertext, cipher.getAuthTag()]).toString("base64url"));
    }
    const iat = Math.floor(Date.now() / 1000);
    const claims = {
      iss: origin,
      sub: grant.subject,
      aud: grant.resource,
      iat,
      exp: iat + 3600,
      jti: randomToken(),
      client_id: record.clientId,
      scope: record.scopes.join(" "),
    };
    const input = `${header}.${base64urlJSON(claims)}`;
    const signature = Buffer.from(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, Buffer.from(input))).toString("base64url");
    return { status: 200, body: { access_token: `${input}.${signature}`, token_type: "Bearer", expires_in: 3600, refresh_token: next, scope: claims.scope } };
  };
  ready.files = { refreshTokens: await writeLines(`floor-refresh-${framework}`, issued) };
} else if (mode === "register" || mode === "register-duties") {
  path = "/register";
  const duties = mode === "register-duties";
  const clients = new Map<string, object>();
  answer = (text) => {
    let metadata: Record<string, unknown>;
    try {
      metadata = JSON.parse(text);
    } catch {
      return { status: 400, body: { error: "invalid_client_metadata" } };
    }
    const uris = metadata?.redirect_uris;
    if (!Array.isArray(uris) || uris.length === 0 || !uris.every((u) => typeof u === "string")) {
      return { status: 400, body: { error: "invalid_redirect_uri" } };
    }
    if (!duties) {
      const client = { ...metadata, client_id: randomUUID(), client_id_issued_at: Math.floor(Date.now() / 1000) };
      clients.set(client.client_id, client);
      return { status: 201, body: client };
    }
    for (const uri of uris as string[]) {
      const url = URL.parse(uri);
      const loopback = url?.hostname === "127.0.0.1" || url?.hostname === "[::1]" || url?.hostname === "localhost";
      if (!url || url.hash || (url.protocol === "http:" && !loopback)) return { status: 400, body: { error: "invalid_redirect_uri" } };
    }
    const grantTypes = metadata.grant_types ?? ["authorization_code"];
    const responseTypes = metadata.response_types ?? ["code"];
    const method = metadata.token_endpoint_auth_method ?? "client_secret_basic";
    if (!Array.isArray(grantTypes) || !grantTypes.every((g) => g === "authorization_code" || g === "refresh_token")) {
      return { status: 400, body: { error: "invalid_client_metadata" } };
    }
    if (!Array.isArray(responseTypes) || !responseTypes.every((t) => t === "code") || typeof method !== "string" || !AUTH_METHODS.has(method)) {
      return { status: 400, body: { error: "invalid_client_metadata" } };
    }
    for (const name of ["client_name", "client_uri", "logo_uri", "scope"]) {
      if (metadata[name] !== undefined && (typeof metadata[name] !== "string" || (metadata[name] as string).length > 2000)) {
        return { status: 400, body: { error: "invalid_client_metadata" } };
      }
    }
    const clientId = randomBytes(16).toString("base64url");
    const registrationToken = randomToken();
    const secret = method === "none" ? undefined : randomToken();
    const client = {
      ...metadata,
      grant_types: grantTypes,
      response_types: responseTypes,
      token_endpoint_auth_method: method,
      client_id: clientId,
      client_id_issued_at: Math.floor(Date.now() / 1000),
    };
    clients.set(clientId, { client, registrationTokenHash: sha256(registrationToken), ...(secret ? { secretHash: sha256(secret) } : {}) });
    return {
      status: 201,
      body: {
        ...client,
        ...(secret ? { client_secret: secret } : {}),
        registration_access_token: registrationToken,
        registration_client_uri: `${origin}/register/${clientId}`,
      },
    };
  };
} else {
  fail(`unknown mode ${String(mode)}`);
}

const read = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
const NO_STORE = { "Content-Type": "application/json", "Cache-Control": "no-store" };

if (framework === "hono") {
  const app = new Hono();
  app.post(path, async (c) => {
    // As Portcullis's adapters do: the body straight from Node's stream, the Request built bodiless.
    const text = await read((c.env as { incoming: IncomingMessage }).incoming);
    void c.req.raw.headers;
    const { status, body } = await answer(text);
    return c.body(JSON.stringify(body), status as 200, NO_STORE);
  });
  attach(getRequestListener(app.fetch));
} else if (framework === "node") {
  attach((req, res) => {
    if (req.method !== "POST" || req.url !== path) return void res.writeHead(404).end();
    read(req).then(
      async (text) => {
        const { status, body } = await answer(text);
        res.writeHead(status, NO_STORE).end(JSON.stringify(body));
      },
      () => res.writeHead(400).end(),
    );
  });
} else {
  fail(`unknown framework ${String(framework)}`);
}
await reportReady(ready);
