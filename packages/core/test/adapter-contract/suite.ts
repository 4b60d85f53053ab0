// The adapter contract: one table of hostile and ordinary requests, sent over a real socket to an
// adapter serving the contract app (./app.ts), each answered exactly as the Fetch core answers it.
import { once } from "node:events";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_MCP_BODY } from "../../src/index.js";
import { createReference } from "./app.js";

/** A running adapter: its origin, how many errors its hooks reported so far, how to stop it. */
export interface RunningAdapter {
  url: string;
  reportedErrors(): Promise<number>;
  stop(): Promise<void>;
}

interface Case {
  name: string;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  /** The body, sent with Content-Length; or, with `chunked`, as a stream without one. */
  body?: string;
  chunked?: boolean;
}

const STACK = /\bat\s+\S+\s+\(|\.(?:ts|js):\d+:\d+|\/secret\/|node_modules/;
const toolCall = (name: string, padding = 0) =>
  JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: {} }, ...(padding ? { pad: "x".repeat(padding) } : {}) });
const json = (token?: string, extra: Record<string, string> = {}) => ({
  "Content-Type": "application/json",
  ...(token ? { Authorization: `Bearer ${token}` } : {}),
  ...extra,
});
const form = { "Content-Type": "application/x-www-form-urlencoded" };
const deep = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
const padded = toolCall("admin_echo", MAX_MCP_BODY + 100_000);

/** The table: every adapter answers each of these as the core does. */
export const CONTRACT_CASES: Case[] = [
  { name: "bad percent-encoding in a token request body", path: "/token", headers: form, body: "grant_type=refresh_token&refresh_token=%zz&client_id=pub" },
  {
    name: "bad percent-encoding in a token request parameter name",
    path: "/token",
    headers: form,
    body: "grant_type=refresh_token&refresh_token=x&client_id=pub&%E0%A4%A=1",
  },
  { name: "bad percent-encoding in the query", method: "GET", path: "/authorize?response_type=code&client_id=%zz&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb" },
  {
    name: "a token request body over the limit, declared",
    path: "/token",
    headers: form,
    body: `grant_type=refresh_token&refresh_token=${"x".repeat(70_000)}`,
  },
  {
    name: "a token request body over the limit, chunked",
    path: "/token",
    headers: form,
    body: `grant_type=refresh_token&refresh_token=${"x".repeat(70_000)}`,
    chunked: true,
  },
  {
    name: "a registration nested 20,000 levels deep",
    path: "/register",
    headers: json(),
    body: `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none","jwks":{"keys":${deep(20_000)}}}`,
  },
  { name: "an MCP call without a token", path: "/mcp", headers: json(), body: toolCall("whoami") },
  // text/plain: a JSON body parser an app mounts first (express.json()) leaves it to the guard.
  {
    name: "an MCP call without a token, padded over the limit and chunked",
    path: "/mcp",
    headers: { "Content-Type": "text/plain" },
    body: padded,
    chunked: true,
  },
  { name: "a malformed Authorization header (two words)", path: "/mcp", headers: json(undefined, { Authorization: "Bearer a b" }), body: toolCall("whoami") },
  { name: "a malformed Authorization header (no token)", path: "/mcp", headers: json(undefined, { Authorization: "Bearer" }), body: toolCall("whoami") },
  { name: "another scheme", path: "/mcp", headers: json(undefined, { Authorization: "Basic d2VhazpwYXNz" }), body: toolCall("whoami") },
  { name: "two tokens in one header", path: "/mcp", headers: json(undefined, { Authorization: "Bearer weak, Bearer admin" }), body: toolCall("whoami") },
  { name: "an unknown token", path: "/mcp", headers: json("nope"), body: toolCall("whoami") },
  { name: "a weak token calling an allowed tool", path: "/mcp", headers: json("weak"), body: toolCall("whoami") },
  { name: "a weak token calling admin_echo", path: "/mcp", headers: json("weak"), body: toolCall("admin_echo") },
  { name: "an admin token calling admin_echo", path: "/mcp", headers: json("admin"), body: toolCall("admin_echo") },
  { name: "a weak token calling admin_echo padded past the limit (declared)", path: "/mcp", headers: json("weak"), body: padded },
  { name: "a weak token calling admin_echo padded past the limit (chunked)", path: "/mcp", headers: json("weak"), body: padded, chunked: true },
  {
    name: "a weak token calling admin_echo padded past the limit as text/plain",
    path: "/mcp",
    headers: json("weak", { "Content-Type": "text/plain" }),
    body: padded,
  },
  {
    name: "a weak token with a body that is not JSON",
    path: "/mcp",
    headers: json("weak", { "Content-Type": "text/plain" }),
    body: `${toolCall("admin_echo")} trailing`,
  },
  { name: "a weak token with a JSON body nested 20,000 levels deep", path: "/mcp", headers: json("weak"), body: deep(20_000) },
  ...["constructor", "__proto__", "toString", "hasOwnProperty"].map((name) => ({
    name: `a tools/call named ${name}`,
    path: "/mcp",
    headers: json("weak"),
    body: toolCall(name),
  })),
  {
    name: "a JSON-RPC method named hasOwnProperty",
    path: "/mcp",
    headers: json("weak"),
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "hasOwnProperty" }),
  },
  {
    name: "Mcp-Name disagreeing with the body",
    path: "/mcp",
    headers: json("weak", { "Mcp-Method": "tools/call", "Mcp-Name": "whoami" }),
    body: toolCall("admin_echo"),
  },
  { name: "a guard failure (a verifier answering without scopes)", path: "/mcp", headers: json("boom"), body: toolCall("whoami") },
];

function requestInit(c: Case): RequestInit {
  const init: RequestInit & { duplex?: "half" } = { method: c.method ?? "POST", headers: c.headers ?? {}, redirect: "manual" };
  if (c.body === undefined) return init;
  if (!c.chunked) return { ...init, body: c.body };
  const bytes = new TextEncoder().encode(c.body);
  let offset = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + 65_536));
      offset += 65_536;
    },
  });
  return { ...init, body, duplex: "half" } as RequestInit;
}

/** What must agree: the status, the OAuth `error` (for JSON answers), whether the route was reached. */
async function summary(response: Response | { status: number; text(): Promise<string> }) {
  const text = await response.text();
  let body: { error?: unknown; reached?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // Not JSON (an HTML error page): the status says it.
  }
  return { status: response.status, error: body.error ?? null, reached: body.reached === true, text };
}

/**
 * Sends a case to the adapter. A server may answer before the upload ends and close the
 * connection, which fetch reports as a failed write: then the case goes again on a bare socket
 * whose writes may fail, and the answer is read from what arrived.
 */
async function exchange(url: string, c: Case) {
  try {
    // Each case on a connection of its own: workerd resets one whose upload the Worker left
    // unread, after answering, and a pooled connection reset that way failed the next test's
    // first request (ECONNRESET) when it was handed out again before the reset arrived.
    const init = requestInit(c);
    return await summary(await fetch(`${url}${c.path}`, { ...init, headers: { ...(init.headers as Record<string, string>), Connection: "close" } }));
  } catch {
    const { hostname, port, host } = new URL(url);
    const socket = connect(Number(port), hostname);
    socket.on("error", () => {});
    let received = "";
    socket.on("data", (data: Buffer) => (received += data.toString("utf8")));
    // Not events.once: it rejects on the socket's error, and a reset write is expected here.
    const closed = new Promise((resolve) => socket.on("close", resolve));
    const body = Buffer.from(c.body ?? "");
    const head = [
      `${c.method ?? "POST"} ${c.path} HTTP/1.1`,
      `Host: ${host}`,
      "Connection: close",
      ...Object.entries(c.headers ?? {}).map(([n, v]) => `${n}: ${v}`),
    ];
    head.push(c.chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${body.length}`);
    socket.write(`${head.join("\r\n")}\r\n\r\n`);
    socket.write(c.chunked ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from("\r\n0\r\n\r\n")]) : body);
    await closed;
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
    const payload = received.slice(received.indexOf("\r\n\r\n") + 4);
    return summary({ status, text: async () => /\{[\s\S]*\}/.exec(payload)?.[0] ?? payload });
  }
}

/**
 * Runs the contract against one adapter. `start` serves the contract app (./app.ts) through the
 * adapter on a real port, reporting errors to `errors`.
 */
export function describeAdapterContract(
  name: string,
  start: () => Promise<RunningAdapter>,
  /** workerd resets the connection of a request whose body the Worker left (partly) unread, mid-upload: the answer may be lost with it. */
  quirks: { resetsUnreadUploads?: boolean } = {},
): void {
  describe(`Adapter contract: ${name}`, () => {
    let adapter: RunningAdapter;
    let reference: (request: Request) => Promise<Response>;
    beforeAll(async () => {
      adapter = await start();
      reference = createReference(adapter.url);
    }, 60_000);
    afterAll(async () => {
      await adapter?.stop();
    });

    it.each(CONTRACT_CASES)("answers $name as the core does", async (c) => {
      const expected = await summary(await reference(new Request(`${adapter.url}${c.path}`, requestInit(c))));
      const actual = await exchange(adapter.url, c);
      // The connection was reset with the body unread: the refusal went unheard, nothing was read.
      if (quirks.resetsUnreadUploads && actual.status === 0 && (expected.status === 401 || expected.status === 413)) return expect(actual.reached).toBe(false);
      expect(STACK.test(actual.text), actual.text.slice(0, 300)).toBe(false);
      expect({ status: actual.status, error: actual.error, reached: actual.reached }).toEqual({
        status: expected.status,
        error: expected.error,
        reached: expected.reached,
      });
    });

    it("audit #2: a 1.1 MB admin_echo call with a token lacking mcp:admin never reaches the route, declared, chunked or as text/plain", async () => {
      for (const c of CONTRACT_CASES.filter((c) => c.name.includes("padded past the limit"))) {
        const actual = await exchange(adapter.url, c);
        expect(actual.reached, c.name).toBe(false);
        // On workerd the refusal may be lost with the reset of the unread rest of the upload.
        if (quirks.resetsUnreadUploads && actual.status === 0) continue;
        expect(actual.status, c.name).toBe(413);
      }
    });

    it("audit #13: a guard failure is a bare server_error 500 with no-store, reported to the error hook", async () => {
      const before = await adapter.reportedErrors();
      const response = await fetch(`${adapter.url}/mcp`, { method: "POST", headers: json("boom"), body: toolCall("whoami") });
      expect(response.status).toBe(500);
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      expect(await response.json()).toEqual({ error: "server_error" });
      expect(await adapter.reportedErrors()).toBeGreaterThan(before);
    });

    it.each(["/%6Dcp", "/MCP", "//mcp", "/mcp/", "/%2Fmcp", "/mcp%2F", "/./mcp", "/x/../mcp"])(
      "never lets %s reach the MCP route without a token",
      async (path) => {
        for (const method of ["POST", "GET"]) {
          const response = await fetch(`${adapter.url}${path}`, {
            method,
            headers: json(),
            ...(method === "POST" ? { body: toolCall("admin_echo") } : {}),
            redirect: "manual",
          });
          expect((await summary(response)).reached, `${method} ${path}`).toBe(false);
        }
      },
    );

    it("audit #3: a chunked upload without a token is answered 401 long before it ends, its body unread", async () => {
      const { hostname, port, host } = new URL(adapter.url);
      const socket = connect(Number(port), hostname);
      socket.on("error", () => {});
      await once(socket, "connect");
      let received = "";
      let answered!: () => void;
      const answer = new Promise<void>((resolve) => (answered = resolve));
      socket.on("data", (data: Buffer) => {
        received += data.toString("latin1");
        if (received.includes("\r\n\r\n")) answered();
      });
      socket.on("close", () => answered());
      socket.write(`POST /mcp HTTP/1.1\r\nHost: ${host}\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n`);
      // Up to 64 MB of JSON whitespace, as fast as the server takes it, until the answer comes.
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
      const budget = 64 * 1024 * 1024;
      let sent = 0;
      let done = false;
      void answer.then(() => (done = true));
      while (!done && sent < budget) {
        if (!socket.write(frame)) await Promise.race([once(socket, "drain").catch(() => {}), answer]);
        sent += chunk.length;
      }
      const sentBeforeAnswer = done ? sent : Infinity;
      if (!done) socket.write("0\r\n\r\n");
      await answer;
      socket.destroy();
      expect(sentBeforeAnswer).toBeLessThan(budget);
      if (quirks.resetsUnreadUploads && received === "") return;
      expect(received).toMatch(/^HTTP\/1\.1 401 /);
    }, 60_000);
  });
}
