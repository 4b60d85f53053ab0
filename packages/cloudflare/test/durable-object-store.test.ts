import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Storage, StorageWrite } from "@portcullis/core";
import { runConcurrencySuite, runStorageContract } from "@portcullis/core/testing";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundle, startWorkerd } from "./workerd.js";

// One workerd for the file, persisting Durable Objects to a directory so a restart can be tested.
const persist = mkdtempSync(join(tmpdir(), "portcullis-do-"));
let script = "";
let mf: Miniflare | undefined;
let url: URL;

async function start() {
  ({ mf, url } = await startWorkerd(script, {
    durableObjects: { STORE: { className: "TestStorageObject", useSQLite: true } },
    durableObjectsPersist: persist,
  }));
}

beforeAll(async () => {
  script = await bundle(fileURLToPath(new URL("./storage-worker.ts", import.meta.url)));
  await start();
}, 60_000);
afterAll(async () => {
  await mf?.dispose();
  rmSync(persist, { recursive: true, force: true });
});

/** Sends one store call to the test Worker; rethrows its error with the same name. */
async function call(store: string, op: string, key: string, extra: { value?: unknown; ttl?: number; limit?: number; entries?: readonly StorageWrite[] } = {}) {
  const body: Record<string, unknown> = { store, op, key };
  if (extra.entries) {
    body.entries = extra.entries.map((e) => ({
      key: e.key,
      value: e.value,
      ...(e.options?.ttlSeconds === undefined ? {} : { ttl: String(e.options.ttlSeconds) }),
    }));
  }
  if ("value" in extra) body.value = extra.value;
  if (extra.ttl !== undefined) body.ttl = String(extra.ttl);
  if (extra.limit !== undefined) body.limit = extra.limit;
  const response = await fetch(url, { method: "POST", body: JSON.stringify(body) });
  const answer = (await response.json()) as { result?: unknown; error?: { name: string; message: string } };
  if (answer.error) throw answer.error.name === "TypeError" ? new TypeError(answer.error.message) : new Error(answer.error.message);
  return answer.result;
}

/** The harness's Storage: a thin HTTP client of the test Worker, one object per name. */
function remoteStore(name: string): Storage {
  return {
    get: async (key) => call(name, "get", key) as never,
    set: async (key, value, options) => void (await call(name, "set", key, { value, ttl: options?.ttlSeconds })),
    setIfAbsent: async (key, value, options) => (await call(name, "setIfAbsent", key, { value, ttl: options?.ttlSeconds })) as boolean,
    delete: async (key) => void (await call(name, "delete", key)),
    consume: async (key) => call(name, "consume", key) as never,
    consumeAndSet: async (key, entries) => call(name, "consumeAndSet", key, { entries }) as never,
    increment: async (key, options) => (await call(name, "increment", key, { ttl: options?.ttlSeconds })) as number,
    list: async (prefix, options) => (await call(name, "list", prefix, { limit: options?.limit })) as never,
  };
}

const names = new WeakMap<Storage, string>();
let counter = 0;

// The object reads workerd's clock, so the suite waits out its TTLs in real time.
runStorageContract("Durable Object (workerd)", {
  async open() {
    const name = `contract-${++counter}-${crypto.randomUUID()}`;
    const store = remoteStore(name);
    names.set(store, name);
    return store;
  },
  async reopen(store) {
    // A real restart: workerd exits and starts again on the same persisted Durable Objects.
    await mf!.dispose();
    await start();
    return remoteStore(names.get(store)!);
  },
});

// The token endpoint, counters, rate limits and the sign-in lockout race in Node, every store
// call crossing into the one Durable Object inside workerd.
runConcurrencySuite("Durable Object (workerd)", { open: async () => remoteStore(`race-${++counter}-${crypto.randomUUID()}`) });

describe("PortcullisStorageObject", () => {
  it("deletes expired rows with its alarm, not only hides them", async () => {
    const name = `sweep-${crypto.randomUUID()}`;
    const store = remoteStore(name);
    await store.set("short", 1, { ttlSeconds: 1 });
    await store.set("kept", 2);
    expect(await call(name, "rowCount", "")).toBe(2);
    expect(await call(name, "alarmTime", "")).toBeTypeOf("number");
    await expect.poll(() => call(name, "rowCount", ""), { timeout: 10_000, interval: 200 }).toBe(1);
    expect(await store.get("kept")).toBe(2);
    expect(await call(name, "alarmTime", "")).toBeNull();
  });

  it("keeps separate names apart", async () => {
    const a = remoteStore(`a-${crypto.randomUUID()}`);
    const b = remoteStore(`b-${crypto.randomUUID()}`);
    await a.set("k", "in a");
    expect(await b.get("k")).toBeUndefined();
    expect(await a.get("k")).toBe("in a");
  });
});
