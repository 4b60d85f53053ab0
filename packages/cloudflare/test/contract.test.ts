import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { describeAdapterContract } from "../../core/test/adapter-contract/suite.js";
import { bundle, startWorkerd } from "./workerd.js";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startContractWorker() {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const script = await bundle(fileURLToPath(new URL("./contract-worker.ts", import.meta.url)));
  const { mf } = await startWorkerd(script, { port, bindings: { ISSUER: url } });
  return {
    url,
    reportedErrors: async () => ((await (await fetch(`${url}/__errors`)).json()) as { reported: number }).reported,
    stop: () => mf.dispose(),
  };
}

describeAdapterContract("Cloudflare withPortcullis in workerd", startContractWorker, { resetsUnreadUploads: true });

describe("withPortcullis: the Worker's own failures", () => {
  it("audit #13: an exception in the wrapped fetch is a bare server_error 500, never the stack, and is reported", async () => {
    const worker = await startContractWorker();
    try {
      const before = await worker.reportedErrors();
      const response = await fetch(`${worker.url}/mcp/throw`, { headers: { Authorization: "Bearer weak" } });
      expect(response.status).toBe(500);
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      const text = await response.text();
      expect(text).not.toContain("secret");
      expect(JSON.parse(text)).toEqual({ error: "server_error" });
      expect(await worker.reportedErrors()).toBe(before + 1);
    } finally {
      await worker.stop();
    }
  }, 60_000);
});
