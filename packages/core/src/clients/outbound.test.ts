import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { checkOutboundURL, fetchPublicJSON } from "./outbound.js";
import { authorizationUrl, createTestServer } from "../../test/helpers.js";
import { connectionRecorder } from "../../test/listener.js";

type GetBuiltinModule = (id: string) => unknown;
const nodeProcess = globalThis.process as unknown as { getBuiltinModule: GetBuiltinModule };

/** Makes `node:dns` answer `addresses` for every name, as the default resolver sees it. */
function fakeDNS(addresses: string[]) {
  const real = nodeProcess.getBuiltinModule.bind(nodeProcess);
  const lookup = vi.fn(async () => addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })));
  vi.spyOn(nodeProcess, "getBuiltinModule").mockImplementation((id: string) => {
    if (id === "node:dns" || id === "dns") return { ...(real(id) as object), promises: { lookup } };
    if (id === "node:dns/promises" || id === "dns/promises") return { lookup };
    return real(id);
  });
  return lookup;
}

describe("Default outbound resolver on Node", () => {
  afterEach(() => vi.restoreAllMocks());

  it("audit #6: without resolveHost, a name resolving to loopback is refused on Node with no connection made", async () => {
    const lookup = fakeDNS(["127.0.0.1"]);
    const listener = await connectionRecorder();
    try {
      const t = createTestServer();
      const { url } = await authorizationUrl({
        client_id: `https://docs.example.com:${listener.port}/cimd.json`,
        redirect_uri: "http://127.0.0.1:4000/callback",
      });
      const response = await t.fetch(url);
      expect(response.status).toBe(400);
      expect(lookup).toHaveBeenCalled();
      expect(listener.connections).toBe(0);
    } finally {
      await listener.close();
    }
  });
});

/** A local http server; `handle` answers each request. */
async function httpServer(handle: (request: IncomingMessage, response: ServerResponse) => void) {
  const server = createServer(handle);
  const closed: Promise<void>[] = [];
  server.on("connection", (socket) => closed.push(new Promise((resolve) => socket.on("close", () => resolve()))));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** Resolves once every connection made so far has closed. */
    allClosed: () => Promise.all(closed),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const DEV = { allowInsecureLoopback: true } as const;

describe("fetchPublicJSON over a real socket (Node transport)", () => {
  afterEach(() => vi.restoreAllMocks());

  it("reads a JSON document", async () => {
    const server = await httpServer((_, response) => response.writeHead(200, { "Content-Type": "application/json" }).end('{"ok":true}'));
    try {
      const { body } = await fetchPublicJSON(new URL(`${server.url}/doc.json`), DEV);
      expect(body).toEqual({ ok: true });
    } finally {
      await server.close();
    }
  });

  it("audit #5: does not follow a redirect to a private host: no connection reaches it", async () => {
    const target = await connectionRecorder();
    const server = await httpServer((_, response) => response.writeHead(302, { Location: `http://127.0.0.1:${target.port}/doc.json` }).end());
    try {
      await expect(fetchPublicJSON(new URL(`${server.url}/doc.json`), DEV)).rejects.toThrow("fetch answered 302");
      expect(target.connections).toBe(0);
    } finally {
      await Promise.all([server.close(), target.close()]);
    }
  });

  it("audit #5: stops an endless body at the size limit and closes the connection", async () => {
    const server = await httpServer((_, response) => {
      response.writeHead(200, { "Content-Type": "application/json" });
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const pump = () => {
        while (response.write(chunk));
        response.once("drain", pump);
      };
      response.on("error", () => {});
      pump();
    });
    try {
      await expect(fetchPublicJSON(new URL(`${server.url}/doc.json`), { ...DEV, maxBytes: 64 * 1024 })).rejects.toThrow("document too large");
      await server.allClosed();
    } finally {
      await server.close();
    }
  });

  it("audit #5: gives up on a server that sends headers and then stalls, and on one that never answers", async () => {
    const stalled = await httpServer((_, response) => {
      response.writeHead(200, { "Content-Type": "application/json" });
      response.write("{");
    });
    const silent = await connectionRecorder(() => {});
    try {
      await expect(fetchPublicJSON(new URL(`${stalled.url}/doc.json`), { ...DEV, timeoutMs: 300 })).rejects.toThrow("fetch timed out");
      await expect(fetchPublicJSON(new URL(`http://127.0.0.1:${silent.port}/doc.json`), { ...DEV, timeoutMs: 300 })).rejects.toThrow("fetch timed out");
      expect(silent.connections).toBe(1);
    } finally {
      await Promise.all([stalled.close(), silent.close()]);
    }
  });

  it("audit #5: a resolver that never answers is bounded by the time limit", async () => {
    const never = () => new Promise<string[]>(() => {});
    await expect(fetchPublicJSON(new URL("https://docs.example.com/doc.json"), { resolveHost: never, timeoutMs: 200 })).rejects.toThrow("fetch timed out");
  });

  it("audit #6: connects only to the addresses it checked: the lookup handed to node:https answers them and nothing else", async () => {
    const real = nodeProcess.getBuiltinModule.bind(nodeProcess);
    let given: Record<string, unknown> | undefined;
    const https = {
      request: (_url: URL, options: Record<string, unknown>) => {
        given = options;
        return { on: (_: string, fail: (e: Error) => void) => queueMicrotask(() => fail(new Error("stop here"))), end: () => {} };
      },
    };
    vi.spyOn(nodeProcess, "getBuiltinModule").mockImplementation((id: string) => (id === "node:https" ? https : real(id)));
    await expect(
      fetchPublicJSON(new URL("https://docs.example.com/doc.json"), { resolveHost: async () => ["93.184.216.34", "2606:2800:220:1::1"] }),
    ).rejects.toThrow("fetch failed");
    const lookup = given!.lookup as (host: string, options: object, callback: (...args: unknown[]) => void) => void;
    const answers: unknown[][] = [];
    lookup("docs.example.com", { all: true }, (...args) => answers.push(args));
    lookup("docs.example.com", { family: 6 }, (...args) => answers.push(args));
    lookup("docs.example.com", {}, (...args) => answers.push(args));
    expect(answers).toEqual([
      [
        null,
        [
          { address: "93.184.216.34", family: 4 },
          { address: "2606:2800:220:1::1", family: 6 },
        ],
      ],
      [null, "2606:2800:220:1::1", 6],
      [null, "93.184.216.34", 4],
    ]);
    expect(given!.agent).toBe(false);
  });
});

describe("checkOutboundURL: the policy before any connection", () => {
  it.each([
    ["https://localhost/doc.json", "single-label"],
    ["https://api.localhost/doc.json", "special-use name"],
    ["https://metadata.google.internal/doc.json", "special-use name"],
    ["https://Printer.Local./doc.json", "special-use name"],
    ["https://nas.home.arpa/doc.json", "special-use name"],
    ["https://intranet/doc.json", "single-label"],
    ["https://127.0.0.1/doc.json", "Loopback"],
    ["https://0x7f000001/doc.json", "Loopback"],
    ["https://017700000001/doc.json", "Loopback"],
    ["https://127.1/doc.json", "Loopback"],
    ["https://[::ffff:127.0.0.1]/doc.json", "Loopback"],
    ["https://[64:ff9b::a9fe:a9fe]/doc.json", "Link Local"],
    ["https://[fd00:ec2::254]/doc.json", "Unique-Local"],
    ["http://docs.example.com/doc.json", "https"],
    ["https://user:pass@docs.example.com/doc.json", "userinfo"],
  ])("audit #6: refuses %s (%s)", (url, why) => {
    expect(() => checkOutboundURL(new URL(url), {})).toThrow(why);
  });

  it("admits a public name and a public address", () => {
    expect(checkOutboundURL(new URL("https://docs.example.com/doc.json"), {})).toEqual({ loopbackException: false });
    expect(checkOutboundURL(new URL("https://93.184.216.34/doc.json"), {})).toEqual({ loopbackException: false });
  });

  it("admits loopback, over http too, only with allowInsecureLoopback, and still under the host lists", () => {
    expect(() => checkOutboundURL(new URL("http://localhost:3000/doc.json"), {})).toThrow();
    expect(checkOutboundURL(new URL("http://localhost:3000/doc.json"), DEV)).toEqual({ loopbackException: true });
    expect(checkOutboundURL(new URL("https://[::1]:3000/doc.json"), DEV)).toEqual({ loopbackException: true });
    expect(() => checkOutboundURL(new URL("http://10.0.0.1/doc.json"), DEV)).toThrow("https");
    expect(() => checkOutboundURL(new URL("http://localhost:3000/doc.json"), { ...DEV, allowedFetchHosts: ["docs.example.com"] })).toThrow("not allowed");
  });

  it("matches host lists case-insensitively, with or without the trailing dot, and *. for subdomains only", () => {
    const policy = { allowedFetchHosts: ["*.Example.com"], deniedFetchHosts: ["bad.example.com."] };
    expect(() => checkOutboundURL(new URL("https://docs.example.com./x"), policy)).not.toThrow();
    expect(() => checkOutboundURL(new URL("https://example.com/x"), policy)).toThrow("not allowed");
    expect(() => checkOutboundURL(new URL("https://evilexample.com/x"), policy)).toThrow("not allowed");
    expect(() => checkOutboundURL(new URL("https://BAD.example.com/x"), policy)).toThrow("denied");
  });

  it("refuses everything when turned off", () => {
    expect(() => checkOutboundURL(new URL("https://docs.example.com/x"), { enabled: false })).toThrow("turned off");
  });
});

describe("Where the outbound policy is configured", () => {
  it("takes it under outbound, or under clientMetadataDocuments as before, but a member given in both places is a TypeError", () => {
    expect(() =>
      createTestServer({ outbound: { allowedFetchHosts: ["a.example"] }, clientMetadataDocuments: { deniedFetchHosts: ["b.example"] } }),
    ).not.toThrow();
    expect(() => createTestServer({ outbound: { allowedFetchHosts: ["a.example"] }, clientMetadataDocuments: { allowedFetchHosts: ["b.example"] } })).toThrow(
      TypeError,
    );
    expect(() => createTestServer({ outbound: { allowedFetchHosts: ["a.example"] }, clientMetadataDocuments: { allowedHosts: ["b.example"] } })).toThrow(
      TypeError,
    );
    expect(() => createTestServer({ outbound: { timeoutMs: 0 } })).toThrow(/outbound\.timeoutMs/);
  });

  it("takes the fetch host lists under their older names too, but not under both names at once", () => {
    expect(() => createTestServer({ outbound: { allowedHosts: ["a.example"], deniedHosts: ["b.example"] } })).not.toThrow();
    expect(() => createTestServer({ outbound: { allowedHosts: ["a.example"], allowedFetchHosts: ["a.example"] } })).toThrow(/allowedFetchHosts/);
  });

  it("outbound: false (or the older { enabled: false }) also turns metadata documents off", () => {
    expect(createTestServer({ outbound: false }).server.metadata().client_id_metadata_document_supported).toBeUndefined();
    expect(createTestServer({ outbound: { enabled: false } }).server.metadata().client_id_metadata_document_supported).toBeUndefined();
    expect(createTestServer().server.metadata().client_id_metadata_document_supported).toBe(true);
  });
});
