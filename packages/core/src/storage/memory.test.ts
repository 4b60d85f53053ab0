import { describe, expect, it } from "vitest";
import { runStorageContract } from "./contract.js";
import { createMemoryStore } from "./memory.js";

runStorageContract("memory", { open: async () => createMemoryStore() });

describe("Memory store bounds", () => {
  it("drops the oldest entries past maxEntries instead of growing without bound", async () => {
    const store = createMemoryStore({ maxEntries: 3 });
    for (const key of ["a", "b", "c", "d"]) await store.set(key, key);
    expect(await store.get("a")).toBeUndefined();
    expect(await store.get("d")).toBe("d");
    expect((await store.list("")).map((e) => e.key)).toEqual(["b", "c", "d"]);
  });

  it("expires by the injected clock", async () => {
    let t = 1_000;
    const store = createMemoryStore({ now: () => t });
    await store.set("k", 1, { ttlSeconds: 10 });
    t += 9_999;
    expect(await store.get("k")).toBe(1);
    t += 1;
    expect(await store.get("k")).toBeUndefined();
  });
});
