import { request as httpRequest } from "node:http";
import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerClient, signInForTokens, tokenRequest } from "./http-flow.js";
import type { RunningExample } from "./e2e.js";

/** A TCP listener on loopback that only counts the connections made to it. */
async function connectionCounter() {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** An authorization request with PKCE (a fixed challenge: no code is ever redeemed here). */
const authorizeURL = (base: string, params: Record<string, string>) => {
  const url = new URL(`${base}/authorize`);
  url.search = new URLSearchParams({
    response_type: "code",
    code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    code_challenge_method: "S256",
    state: "s",
    ...params,
  }).toString();
  return url;
};

/** An MCP `tools/call` of `admin_echo`, padded with whitespace to `size` bytes. */
const paddedAdminEcho = (size: number) => {
  const call = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "admin_echo", arguments: { text: "hi" } } });
  return `${call.slice(0, -1)}${" ".repeat(Math.max(0, size - call.length))}}`;
};

/**
 * POSTs up to `total` bytes chunked (no Content-Length) to `url`, writing only as fast as the
 * server reads, and stops writing as soon as an answer arrives. Answers the status and how much
 * was written by then.
 */
function chunkedUpload(url: string, total: number, headers: Record<string, string>): Promise<{ status: number | "reset"; sent: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = httpRequest(url, { method: "POST", headers: { ...headers, "Transfer-Encoding": "chunked" } }, (res) => {
      answered = true;
      res.resume();
      resolve({ status: res.statusCode ?? 0, sent });
      req.destroy();
    });
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (answered) return;
      answered = true;
      // A server that answers without reading may reset the connection before its answer is read.
      if (error.code === "ECONNRESET" || error.code === "EPIPE") resolve({ status: "reset", sent });
      else reject(error);
    });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = () => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

/**
 * The exploits of the security audit, tried from outside against a running example over real
 * HTTP. Every one must be refused.
 */
export function describeAuditExploits(name: string, start: () => Promise<RunningExample>, quirks: { resetsUnreadUploads?: boolean } = {}): void {
  describe(`Audit exploits over HTTP: ${name}`, () => {
    let example: RunningExample;
    let base: string;
    let client: { clientId: string; redirectUri: string };
    let weakToken: string;
    beforeAll(async () => {
      example = await start();
      base = example.url;
      client = await registerClient(base);
      const token = await signInForTokens(base, client, { resource: `${base}/mcp` });
      weakToken = token.body.access_token!;
    }, 90_000);
    afterAll(async () => {
      await example?.stop();
    });

    const mcpPost = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${base}/mcp`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...headers },
        body,
      });

    it("audit #1: open registration cannot create a client_credentials client, nor get it an admin token", async () => {
      const registered = await fetch(`${base}/register`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          grant_types: ["client_credentials"],
          token_endpoint_auth_method: "client_secret_basic",
          scope: "mcp:tools mcp:admin",
          client_name: "machine",
        }),
      });
      const body = (await registered.json()) as Record<string, string>;
      if (registered.status === 201) {
        // Should registration ever admit it, the token endpoint must still refuse admin scope.
        const token = await fetch(`${base}/token`, {
          method: "POST",
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            Authorization: `Basic ${Buffer.from(`${encodeURIComponent(body.client_id!)}:${encodeURIComponent(body.client_secret!)}`).toString("base64")}`,
          },
          body: new URLSearchParams({ grant_type: "client_credentials", scope: "mcp:tools mcp:admin" }),
        });
        expect(token.status).toBe(400);
      } else {
        expect(registered.status).toBe(400);
        expect(body.error).toBe("invalid_client_metadata");
      }
    });

    it("audit #2: a padded admin_echo call over the body limit is refused, with or without Content-Length", async () => {
      const sized = await mcpPost(paddedAdminEcho(1_100_000), { Authorization: `Bearer ${weakToken}` });
      await sized.arrayBuffer();
      expect([400, 403, 413]).toContain(sized.status);
      const chunked = await chunkedUpload(`${base}/mcp`, 1_100_000 + 65_536, {
        Authorization: `Bearer ${weakToken}`,
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
      });
      expect(quirks.resetsUnreadUploads ? [400, 403, 413, "reset"] : [400, 403, 413]).toContain(chunked.status);
    });

    it("audit #3 and #10: a large chunked body without a token is answered 401 before it is read", async () => {
      for (const contentType of ["application/json", "text/plain"]) {
        const total = 256 * 1024 * 1024;
        const result = await chunkedUpload(`${base}/mcp`, total, { "Content-Type": contentType, Accept: "application/json, text/event-stream" });
        // workerd's dev server resets a connection whose upload the Worker left unread.
        expect(quirks.resetsUnreadUploads ? [401, "reset"] : [401], contentType).toContain(result.status);
        expect(result.sent, contentType).toBeLessThan(total / 4);
      }
    }, 60_000);

    it("audit #4: prototype keys as scopes, tool names and registered scopes are plain unknown values", async () => {
      const url = authorizeURL(base, { client_id: client.clientId, redirect_uri: client.redirectUri, scope: "toString" });
      const authorizeResponse = await fetch(url, { redirect: "manual" });
      expect(authorizeResponse.status).toBeLessThan(500);
      if (authorizeResponse.status === 302) expect(new URL(authorizeResponse.headers.get("Location")!).searchParams.get("error")).toBe("invalid_scope");
      // An openly registered client gets its errors through a page with a link (AS-AUTHZ-21).
      else expect(await authorizeResponse.text()).toMatch(/data-continue href="[^"]*error=invalid_scope/);
      for (const tool of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
        const call = await mcpPost(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: tool, arguments: {} } }), {
          Authorization: `Bearer ${weakToken}`,
        });
        await call.arrayBuffer();
        expect(call.status, tool).toBeLessThan(500);
      }
      const registered = await fetch(`${base}/register`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ redirect_uris: ["http://127.0.0.1:1/cb"], token_endpoint_auth_method: "none", scope: "mcp:tools constructor" }),
      });
      expect(registered.status).toBe(400);
    });

    it("audit #5: a jwks_uri on a loopback host is never fetched", async () => {
      const listener = await connectionCounter();
      try {
        const registered = await fetch(`${base}/register`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            redirect_uris: ["http://127.0.0.1:1/cb"],
            token_endpoint_auth_method: "private_key_jwt",
            jwks_uri: `https://localhost:${listener.port}/jwks`,
          }),
        });
        if (registered.status === 201) {
          const { client_id: clientId } = (await registered.json()) as { client_id: string };
          const now = Math.floor(Date.now() / 1000);
          const assertion = `${b64url({ alg: "ES256", typ: "JWT" })}.${b64url({ iss: clientId, sub: clientId, aud: `${base}/token`, iat: now, exp: now + 60, jti: crypto.randomUUID() })}.${"A".repeat(86)}`;
          const token = await tokenRequest(base, {
            grant_type: "authorization_code",
            code: "x",
            redirect_uri: "http://127.0.0.1:1/cb",
            client_id: clientId,
            client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            client_assertion: assertion,
          });
          expect(token.status).toBe(401);
        } else {
          expect(registered.status).toBe(400);
        }
        expect(listener.connections()).toBe(0);
      } finally {
        await listener.close();
      }
    });

    it("audit #6: client ID metadata documents on loopback and internal names are never fetched", async () => {
      const listener = await connectionCounter();
      try {
        for (const clientId of [
          `https://localhost:${listener.port}/client.json`,
          `https://127.0.0.1:${listener.port}/client.json`,
          `https://[::ffff:127.0.0.1]:${listener.port}/client.json`,
          "https://metadata.google.internal/client.json",
        ]) {
          const url = authorizeURL(base, { client_id: clientId, redirect_uri: "http://127.0.0.1:1/cb" });
          const response = await fetch(url, { redirect: "manual" });
          await response.arrayBuffer();
          expect(response.status, clientId).toBe(400);
        }
        expect(listener.connections()).toBe(0);
      } finally {
        await listener.close();
      }
    });

    it("audit #7: bad percent-encoding in a path is a 400", async () => {
      for (const path of ["/register/%", "/register/%zz", "/.well-known/oauth-protected-resource/%"]) {
        const response = await fetch(`${base}${path}`);
        await response.arrayBuffer();
        expect(response.status, path).toBeLessThan(500);
      }
      const register = await fetch(`${base}/register/%`);
      expect(register.status).toBe(400);
    });

    it("audit #8: a registration nested 20,000 levels deep is a 400, not a storage error", async () => {
      for (const jwks of ["[".repeat(20_000) + "]".repeat(20_000), `{"keys":[${'{"a":'.repeat(9_000)}1${"}".repeat(9_000)}]}`]) {
        const response = await fetch(`${base}/register`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: `{"redirect_uris":["http://127.0.0.1:1/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks":${jwks}}`,
        });
        expect(response.status, jwks.slice(0, 12)).toBe(400);
      }
    });

    it("audit #9: 20 parallel wrong passwords are judged at most 5 times", async () => {
      const url = authorizeURL(base, { client_id: client.clientId, redirect_uri: client.redirectUri, scope: "mcp:tools" });
      const page = await fetch(url, { redirect: "manual" });
      const html = await page.text();
      const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
      const cookie = page.headers.get("Set-Cookie")?.split(";")[0] ?? "";
      const statuses = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const response = await fetch(`${base}/authorize/consent`, {
            method: "POST",
            redirect: "manual",
            headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie },
            body: new URLSearchParams({
              request_id: field("request_id"),
              csrf_token: field("csrf_token"),
              username: "lockout-target",
              password: "wrong",
              decision: "allow",
            }),
          });
          await response.arrayBuffer();
          return response.status;
        }),
      );
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
      expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    });
  });
}
