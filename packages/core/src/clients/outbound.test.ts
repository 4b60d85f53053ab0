import { afterEach, describe, expect, it, vi } from "vitest";
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
      const { url } = await authorizationUrl({ client_id: `https://docs.example.com:${listener.port}/cimd.json`, redirect_uri: "http://127.0.0.1:4000/callback" });
      const response = await t.fetch(url);
      expect(response.status).toBe(400);
      expect(lookup).toHaveBeenCalled();
      expect(listener.connections).toBe(0);
    } finally {
      await listener.close();
    }
  });
});
