import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { createTestServer, ISSUER } from "../../test/helpers.js";
import { MAX_BODY_BYTES, readDeclaredBody } from "./body.js";
import { serveOwned } from "./serve.js";

const encoder = new TextEncoder();
async function* chunks(...parts: string[]) {
  for (const part of parts) yield encoder.encode(part);
}
const untouched = {
  [Symbol.asyncIterator]() {
    throw new Error("the stream was read");
  },
} as AsyncIterable<Uint8Array>;

describe("Bodies an adapter reads before the core (ConnectionInfo.body)", () => {
  it("reads exactly the declared length from the runtime's chunks", async () => {
    expect(new TextDecoder().decode(await readDeclaredBody("11", chunks("grant_", "type=x")))).toBe("grant_type=x".slice(0, 11));
    expect(new TextDecoder().decode(await readDeclaredBody("5", chunks("abcdefgh")))).toBe("abcde");
    expect(await readDeclaredBody("0", chunks())).toEqual(new Uint8Array(0));
    // A stream that ends early yields what came (the core then refuses the truncated body itself).
    expect(new TextDecoder().decode(await readDeclaredBody("10", chunks("abc")))).toBe("abc");
  });

  it("reads a Node request's body through its events, across chunks, and rejects one whose client went away", async () => {
    const results: Promise<Uint8Array | undefined>[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      // Through the events: the async iterator is never asked for.
      Object.defineProperty(req, Symbol.asyncIterator, {
        value: () => {
          throw new Error("iterated");
        },
      });
      const read = readDeclaredBody(req.headers["content-length"], req);
      results.push(read);
      read.then(
        (body) => res.end(String(body?.length)),
        () => res.destroy(),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const post = (length: number, parts: string[], abort: boolean) =>
      new Promise<string>((resolve) => {
        const req = httpRequest({ port, host: "127.0.0.1", method: "POST", headers: { "Content-Length": String(length) } }, (res) => {
          let text = "";
          res.on("data", (chunk: Buffer) => (text += chunk.toString()));
          res.on("end", () => resolve(text));
        });
        req.on("error", () => resolve("error"));
        void (async () => {
          for (const part of parts) {
            req.write(part);
            await new Promise((r) => setTimeout(r, 20));
          }
          if (abort) req.destroy();
          else req.end();
        })();
      });
    try {
      expect(await post(12, ["grant_", "type=x"], false)).toBe("12");
      expect(new TextDecoder().decode(await results[0])).toBe("grant_type=x");
      expect(await post(0, [], false)).toBe("0");
      // Half the body, then the client is gone: the read rejects rather than hangs.
      await post(100, ["a".repeat(50)], true);
      await expect.poll(() => results.length).toBe(3);
      await expect(results[2]).rejects.toThrow();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("reads nothing, leaving the stream to the core, without a usable Content-Length or past the limit", async () => {
    for (const length of [undefined, null, "", "-1", "1e3", "0x10", " 5", "12345678901", String(MAX_BODY_BYTES + 1)]) {
      expect(await readDeclaredBody(length, untouched), String(length)).toBeUndefined();
    }
  });

  it("serves the token endpoint from the body the adapter passed, and refuses one past the limit with 413", async () => {
    const t = createTestServer();
    const request = () => new Request(`${ISSUER}/token`, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" } });
    const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: "not-a-token", client_id: "pub" });
    const read = (await t.server.handle(request(), { body: encoder.encode(form.toString()) }))!;
    expect(read.status).toBe(400);
    expect(await read.json()).toMatchObject({ error: "invalid_grant" });
    const empty = (await t.server.handle(request(), { body: new Uint8Array(0) }))!;
    // Nothing names a client without the body.
    expect(empty.status).toBe(401);
    expect(await empty.json()).toMatchObject({ error: "invalid_client" });
    const huge = (await t.server.handle(request(), { body: new Uint8Array(MAX_BODY_BYTES + 1) }))!;
    expect(huge.status).toBe(413);
  });

  it("serveOwned builds no Request for a path no handler owns, and reads an owned POST's body from the stream", async () => {
    const t = createTestServer();
    const built: boolean[] = [];
    const input = (path: string, method: string, chunks: AsyncIterable<Uint8Array>, length: string) => ({
      path,
      method,
      request: (withBody: boolean) => {
        built.push(withBody);
        return new Request(`${ISSUER}${path}`, { method, headers: { "Content-Type": "application/x-www-form-urlencoded" } });
      },
      remoteAddress: () => "127.0.0.1",
      body: { contentLength: length, chunks },
    });
    expect(await serveOwned([t.server, t.guard], input("/mcp", "POST", untouched, "10"))).toBeUndefined();
    expect(built).toEqual([]);
    const form = "grant_type=refresh_token&refresh_token=nope&client_id=pub";
    const response = (await serveOwned([t.server, t.guard], input("/token", "POST", chunks(form), String(form.length))))!;
    expect(await response.json()).toMatchObject({ error: "invalid_grant" });
    // The body came from the stream: the Request was built without one.
    expect(built).toEqual([false]);
    expect((await serveOwned([t.server, t.guard], input("/jwks.json", "GET", untouched, "10")))!.status).toBe(200);
    expect(built).toEqual([false, true]);
  });

  it("serveOwned hands each handler the body it read and the peer address, read from the socket only when asked", async () => {
    let reads = 0;
    const seen: { remoteAddress?: string | undefined; body?: Uint8Array | undefined }[] = [];
    const handler = {
      owns: (path: string) => path === "/x",
      handle: async (_request: Request, connection?: { remoteAddress?: string | undefined; body?: Uint8Array | undefined }) => {
        seen.push(connection!);
        return new Response("ok");
      },
    };
    const response = await serveOwned([handler], {
      path: "/x",
      method: "POST",
      request: () => new Request(`${ISSUER}/x`, { method: "POST" }),
      remoteAddress: () => {
        reads++;
        return "192.0.2.7";
      },
      body: { contentLength: "3", chunks: chunks("abc") },
    });
    expect(await response!.text()).toBe("ok");
    expect(new TextDecoder().decode(seen[0]!.body)).toBe("abc");
    expect(reads).toBe(0);
    expect(seen[0]!.remoteAddress).toBe("192.0.2.7");
    expect(seen[0]!.remoteAddress).toBe("192.0.2.7");
    expect(reads).toBe(2);
  });

  it("serveOwned answers a Host that forms no URL with 400, never a 500 (Express builds its URL from the Host header)", async () => {
    const t = createTestServer();
    for (const host of ["127.0.0.1:1.evil.test", "a b", "127.0.0.1:99999", "[::1"]) {
      const response = (await serveOwned([t.server, t.guard], {
        path: "/.well-known/oauth-authorization-server",
        method: "GET",
        request: () => new Request(`http://${host}/.well-known/oauth-authorization-server`),
        remoteAddress: () => "127.0.0.1",
      }))!;
      expect(response.status, host).toBe(400);
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      expect(await response.json()).toMatchObject({ error: "invalid_request" });
    }
  });
});
