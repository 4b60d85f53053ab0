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
 * argv[2] {"mode":"register","framework":"hono"|"node"}: POST /register parses the JSON body,
 * checks `redirect_uris` is a non-empty list of strings, gives the client a random id, keeps it
 * in a Map and answers 201 with it. No other metadata check.
 *
 * `framework` "hono" serves it on bare Hono (@hono/node-server) through the Fetch objects every
 * Portcullis adapter builds (a `Request` and its `Headers`, a `Response`), the body read straight
 * from Node's stream as Portcullis's adapters read it; "node" on bare node:http, with no Fetch
 * objects at all.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
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
} = argConfig<{ mode: "refresh" | "register"; framework: "hono" | "node"; refreshTokens?: number; refreshTokenFile?: string }>();
const { port, origin, attach } = await listenLoopback();
const sha256 = (text: string) => createHash("sha256").update(text).digest("base64url");
const randomToken = () => randomBytes(32).toString("base64url");
const base64urlJSON = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

let path: string;
let answer: (body: string) => Answer | Promise<Answer>;
const ready: Parameters<typeof reportReady>[0] = { port };

if (mode === "refresh") {
  path = "/token";
  const resource = `${origin}/mcp`;
  const { privateKey } = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"])) as CryptoKeyPair;
  const header = base64urlJSON({ alg: "ES256", typ: "at+jwt", kid: "k1" });
  const records = new Map<string, { clientId: string; scopes: string[] }>();
  const issued = refreshTokensFor(refreshTokenFile, count, randomToken);
  for (const token of issued) records.set(sha256(token), { clientId: "pub", scopes: ["mcp:tools"] });
  answer = async (text) => {
    const form = new URLSearchParams(text);
    const presented = form.get("refresh_token");
    if (form.get("grant_type") !== "refresh_token" || !presented) return { status: 400, body: { error: "invalid_request" } };
    const hash = sha256(presented);
    const record = records.get(hash);
    if (!record || record.clientId !== form.get("client_id")) return { status: 400, body: { error: "invalid_grant" } };
    records.delete(hash);
    const next = randomToken();
    records.set(sha256(next), record);
    const iat = Math.floor(Date.now() / 1000);
    const claims = {
      iss: origin,
      sub: "alice",
      aud: resource,
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
} else if (mode === "register") {
  path = "/register";
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
    const client = { ...metadata, client_id: randomUUID(), client_id_issued_at: Math.floor(Date.now() / 1000) };
    clients.set(client.client_id, client);
    return { status: 201, body: client };
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
