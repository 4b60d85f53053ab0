import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { nodeBodyReader, nodeFetchRequest, nodeGuardRequest, sendResponse } from "./index.js";

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** Serves `handler` on a real socket and answers its origin. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<string> {
  server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

/** The raw answer: status, header lines (repeated ones kept), body, and whether it ended cleanly. */
function get(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; raw: string[]; body: string; complete: boolean }>((resolve) => {
    const req = httpRequest(url, { method: init.method ?? "GET", headers: init.headers }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      res.on("end", () => resolve({ status: res.statusCode!, raw: res.rawHeaders, body, complete: res.complete }));
      res.on("error", () => resolve({ status: res.statusCode!, raw: res.rawHeaders, body, complete: false }));
      res.on("aborted", () => resolve({ status: res.statusCode!, raw: res.rawHeaders, body, complete: false }));
    });
    req.on("error", () => resolve({ status: 0, raw: [], body: "", complete: false }));
    req.end(init.body);
  });
}

describe("sendResponse: a Fetch Response written to a Node ServerResponse", () => {
  it("writes the status, the headers, and each Set-Cookie as its own header line", async () => {
    const base = await serve(async (_req, res) => {
      const headers = new Headers({ "Content-Type": "application/json", "Cache-Control": "no-store" });
      headers.append("Set-Cookie", "a=1; Path=/; HttpOnly");
      headers.append("Set-Cookie", "b=2; Path=/; Secure");
      await sendResponse(new Response('{"error":"invalid_request"}', { status: 400, headers }), res);
    });
    const answer = await get(base);
    expect(answer.status).toBe(400);
    expect(answer.body).toBe('{"error":"invalid_request"}');
    const cookies = answer.raw.filter((_, i) => i % 2 === 1 && answer.raw[i - 1]!.toLowerCase() === "set-cookie");
    expect(cookies).toEqual(["a=1; Path=/; HttpOnly", "b=2; Path=/; Secure"]);
    expect(answer.raw).toContain("no-store");
  });

  it("streams a body as it comes, each chunk sent before the next is made", async () => {
    let release!: () => void;
    const second = new Promise<void>((resolve) => (release = resolve));
    const base = await serve(async (_req, res) => {
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode("event: one\n\n"));
          await second;
          controller.enqueue(encoder.encode("event: two\n\n"));
          controller.close();
        },
      });
      await sendResponse(new Response(body, { headers: { "Content-Type": "text/event-stream" } }), res);
    });
    const seen: string[] = [];
    await new Promise<void>((resolve) => {
      httpRequest(base, (res) => {
        res.on("data", (chunk: Buffer) => {
          seen.push(chunk.toString("utf8"));
          // The first event arrived while the second was not made yet: it was streamed.
          if (seen.length === 1) release();
        });
        res.on("end", resolve);
      }).end();
    });
    expect(seen.join("")).toBe("event: one\n\nevent: two\n\n");
    expect(seen[0]).toBe("event: one\n\n");
  });

  it("writes a large body through the socket's backpressure, whole", async () => {
    const chunk = new Uint8Array(256 * 1024).fill(0x61);
    const base = await serve(async (_req, res) => {
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= 32) return controller.close();
          sent++;
          controller.enqueue(chunk);
        },
      });
      await sendResponse(new Response(body), res);
    });
    const answer = await get(base);
    expect(answer.complete).toBe(true);
    expect(answer.body.length).toBe(32 * chunk.length);
  });

  it("cuts the connection when the body fails midway, never a cut answer that looks whole", async () => {
    const base = await serve(async (_req, res) => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"partial":'));
          setTimeout(() => controller.error(new Error("upstream failed")), 10);
        },
      });
      await sendResponse(new Response(body, { status: 200 }), res);
    });
    const answer = await get(base);
    expect(answer.complete).toBe(false);
  });

  it("answers a body-less response with no body", async () => {
    const base = await serve(async (_req, res) => sendResponse(new Response(null, { status: 204, headers: { "Access-Control-Max-Age": "86400" } }), res));
    const answer = await get(base, { method: "OPTIONS" });
    expect(answer.status).toBe(204);
    expect(answer.body).toBe("");
    expect(answer.raw).toContain("86400");
  });
});

describe("Reading a Node request", () => {
  it("nodeGuardRequest reads the Host from the raw headers and the target as sent", async () => {
    let seen: { method: string; url: string; auth: string | null } | undefined;
    const base = await serve(async (req, res) => {
      const request = nodeGuardRequest(req);
      seen = { method: request.method, url: request.url, auth: request.headers.get("authorization") };
      res.end();
    });
    await get(`${base}/mcp?x=1`, { method: "POST", headers: { Authorization: "Bearer abc" } });
    expect(seen).toEqual({ method: "POST", url: `${base}/mcp?x=1`, auth: "Bearer abc" });
  });

  it("nodeBodyReader reads at most the limit, and leaves a JSON body parsed on req.body", async () => {
    const results: unknown[] = [];
    const base = await serve(async (req, res) => {
      const target = req as IncomingMessage & { body?: unknown };
      const bytes = await nodeBodyReader(target)(64);
      results.push({ read: bytes === undefined ? "too long" : bytes.byteLength, body: target.body });
      await sendResponse(new Response(null, { status: 204 }), res, req);
    });
    await get(base, { method: "POST", body: '{"jsonrpc":"2.0","method":"ping"}' });
    await get(base, { method: "POST", body: "not json" });
    await get(base, { method: "POST", body: `"${"x".repeat(200)}"` });
    expect(results).toEqual([
      { read: 33, body: { jsonrpc: "2.0", method: "ping" } },
      { read: 8, body: undefined },
      { read: "too long", body: undefined },
    ]);
  });

  it("nodeFetchRequest pulls the body only when read, or takes a rebuilt one without the old Content-Length", async () => {
    const results: unknown[] = [];
    const base = await serve(async (req, res) => {
      const streamed = nodeFetchRequest(req, `http://example.test${req.url}`);
      results.push({ url: streamed.url, type: streamed.headers.get("content-type"), text: await streamed.text() });
      const rebuilt = nodeFetchRequest(req, "http://example.test/", "a=1");
      results.push({ length: rebuilt.headers.get("content-length"), text: await rebuilt.text() });
      results.push({ body: nodeFetchRequest(req, "http://example.test/", false).body });
      res.end();
    });
    await get(`${base}/register`, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"a":1}' });
    expect(results).toEqual([
      { url: "http://example.test/register", type: "application/json", text: '{"a":1}' },
      { length: null, text: "a=1" },
      { body: null },
    ]);
  });
});
