import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createContractAuth } from "../../core/test/adapter-contract/app.js";
import { toNodeListener } from "../src/index.js";

describe("toNodeListener: the fallback's failures", () => {
  let http: Server;
  let base: string;
  beforeAll(async () => {
    http = createServer();
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const { server, guard } = createContractAuth(base);
    http.on(
      "request",
      toNodeListener(server, guard, (req) => {
        throw new Error(`fallback failed at /secret/path.ts:3:1 for ${req.url}`);
      }),
    );
  });
  afterAll(() => new Promise<void>((resolve) => http.close(() => resolve())));

  it("audit #13: a fallback exception on a path the core may own (not a plain path) is a bare 500, never its message", async () => {
    for (const path of ["/x/%2e%2e/y", "/a%20b", "/plain"]) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).toBe(500);
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      const text = await response.text();
      expect(text, path).not.toContain("secret");
      expect(JSON.parse(text)).toEqual({ error: "server_error" });
    }
  });
});
