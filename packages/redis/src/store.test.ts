import { randomUUID } from "node:crypto";
import { createServer, type Socket } from "node:net";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Storage } from "@portcullis/core";
import { runStorageContract } from "@portcullis/core/testing";
import { createRedisStore } from "./index.js";
import { REDIS_URL, redisSkipReason } from "../test/availability.js";

const url = REDIS_URL;

const skipReason = await redisSkipReason("redis store");

// Every store in this run writes under one namespace, removed at the end.
const run = `portcullis-test:${randomUUID()}:`;
let prefixes = 0;
const freshPrefix = () => `${run}${++prefixes}:`;
const storePrefixes = new WeakMap<Storage, string>();

const raw = createClient({ url });
raw.on("error", () => {});
beforeAll(async () => {
  if (!skipReason) await raw.connect();
});
afterAll(async () => {
  if (!raw.isOpen) return;
  for await (const keys of raw.scanIterator({ MATCH: `${run}*`, COUNT: 1000 })) {
    if (keys.length > 0) await raw.unlink(keys);
  }
  await raw.close();
});

// Redis keeps the time (PX expiries on the server), so the suite waits out its TTLs in real time.
runStorageContract("redis", {
  skipReason,
  async open() {
    const keyPrefix = freshPrefix();
    const store = createRedisStore({ url, keyPrefix });
    storePrefixes.set(store, keyPrefix);
    return store;
  },
  async reopen(store) {
    await store.close?.();
    return createRedisStore({ url, keyPrefix: storePrefixes.get(store)! });
  },
});

describe.skipIf(Boolean(skipReason))("Redis store against a server", () => {
  it("lets exactly one of two clients consume a key", async () => {
    const keyPrefix = freshPrefix();
    const a = createRedisStore({ url, keyPrefix });
    const b = createRedisStore({ url, keyPrefix });
    try {
      for (let round = 0; round < 10; round++) {
        await a.set(`code-${round}`, { round }, { ttlSeconds: 60 });
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).consume(`code-${round}`)));
        expect(results.filter((r) => r !== undefined)).toEqual([{ round }]);
        expect(await b.get(`code-${round}`)).toBeUndefined();
      }
    } finally {
      await a.close?.();
      await b.close?.();
    }
  });

  it("keeps two key prefixes apart in get, list and delete, and strips the prefix from listed keys", async () => {
    const base = freshPrefix();
    // "a*" unescaped in SCAN MATCH would also match the "ab:" deployment's keys.
    const a = createRedisStore({ url, keyPrefix: `${base}a*:` });
    const b = createRedisStore({ url, keyPrefix: `${base}ab:` });
    try {
      await a.set("grant:1", "from a");
      await b.set("grant:1", "from b");
      await b.set("grant:2", "only b");
      expect(await a.get("grant:1")).toBe("from a");
      expect(await b.get("grant:1")).toBe("from b");
      expect(await a.get("grant:2")).toBeUndefined();
      expect(await a.list("")).toEqual([{ key: "grant:1", value: "from a" }]);
      expect((await b.list("grant:")).map((e) => e.key)).toEqual(["grant:1", "grant:2"]);
      await a.delete("grant:1");
      expect(await b.get("grant:1")).toBe("from b");
      expect(await raw.get(`${base}ab:grant:1`)).toBe(JSON.stringify("from b"));
    } finally {
      await a.close?.();
      await b.close?.();
    }
  });

  it("sets a counter's TTL on the first increment only", async () => {
    const keyPrefix = freshPrefix();
    const store = createRedisStore({ url, keyPrefix });
    try {
      expect(await store.increment("rate", { ttlSeconds: 10 })).toBe(1);
      expect(await store.increment("rate", { ttlSeconds: 1000 })).toBe(2);
      const ttl = await raw.pTTL(`${keyPrefix}rate`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(10_000);
      await store.set("plain", 5);
      expect(await store.increment("plain", { ttlSeconds: 10 })).toBe(6);
      expect(await raw.pTTL(`${keyPrefix}plain`)).toBe(-1);
      expect(await store.get("plain")).toBe(6);
    } finally {
      await store.close?.();
    }
  });

  it("lists keys in code point order across many SCAN pages", async () => {
    const store = createRedisStore({ url, keyPrefix: freshPrefix() });
    try {
      const keys = Array.from({ length: 1200 }, (_, i) => `k:${String(i).padStart(4, "0")}`);
      await Promise.all(keys.map((key) => store.set(key, key)));
      await store.set("k:\uffff", "bmp");
      await store.set("k:\u{1F511}", "astral");
      const all = await store.list("k:", { limit: 5000 });
      expect(all.map((e) => e.key)).toEqual([...keys, "k:\uffff", "k:\u{1F511}"]);
      expect((await store.list("k:", { limit: 3 })).map((e) => e.value)).toEqual(["k:0000", "k:0001", "k:0002"]);
    } finally {
      await store.close?.();
    }
  });

  it("delivers a published message to every subscriber of the channel under the same prefix", async () => {
    const keyPrefix = freshPrefix();
    const a = createRedisStore({ url, keyPrefix });
    const b = createRedisStore({ url, keyPrefix });
    const other = createRedisStore({ url, keyPrefix: freshPrefix() });
    try {
      const got: string[] = [];
      const seen = () => got.filter((m) => !m.endsWith(":warmup"));
      const unsubscribe = b.subscribe!("grant-revoked", (message) => got.push(`b:${message}`));
      a.subscribe!("other-channel", (message) => got.push(`a-other:${message}`));
      other.subscribe!("grant-revoked", (message) => got.push(`other-prefix:${message}`));
      // The subscriber connects in the background: publish until every listener has heard one.
      const warm = async () => {
        await Promise.all([a.publish!("grant-revoked", "warmup"), a.publish!("other-channel", "warmup"), other.publish!("grant-revoked", "warmup")]);
        return new Set(got.map((m) => m.split(":")[0])).size;
      };
      await expect.poll(warm, { timeout: 3_000 }).toBe(3);
      // Warm-up messages still on their way are left out.
      await a.publish!("grant-revoked", "g-1");
      await expect.poll(() => seen(), { timeout: 2_000 }).toEqual(["b:g-1"]);
      unsubscribe();
      await a.publish!("grant-revoked", "g-2");
      await a.publish!("other-channel", "x");
      await expect.poll(() => seen(), { timeout: 2_000 }).toEqual(["b:g-1", "a-other:x"]);
    } finally {
      await Promise.all([a.close?.(), b.close?.(), other.close?.()]);
    }
  });

  it("sends its commands without a timeout signal of node-redis's own: its own timer bounds each call", async () => {
    const store = createRedisStore({ url, keyPrefix: freshPrefix() });
    await store.set("warm", 1);
    const timeout = vi.spyOn(AbortSignal, "timeout");
    try {
      await store.set("k", { a: 1 });
      expect(await store.get("k")).toEqual({ a: 1 });
      expect(await store.consumeAndSet!("k", [{ key: "n", value: 2 }])).toEqual({ a: 1 });
      expect(timeout).not.toHaveBeenCalled();
    } finally {
      timeout.mockRestore();
      await store.close?.();
    }
  });

  it("leaves a client it is given its own command timeout", async () => {
    const client = createClient({ url, commandOptions: { timeout: 2_000 } });
    client.on("error", () => {});
    await client.connect();
    const timeout = vi.spyOn(AbortSignal, "timeout");
    try {
      const store = createRedisStore({ client, keyPrefix: freshPrefix() });
      await store.set("k", 1);
      expect(timeout).toHaveBeenCalledWith(2_000);
    } finally {
      timeout.mockRestore();
      await client.close();
    }
  });

  it("uses a client it is given and leaves it open on close", async () => {
    const keyPrefix = freshPrefix();
    const client = createClient({ url, RESP: 3 });
    client.on("error", () => {});
    await client.connect();
    try {
      const store = createRedisStore({ client, keyPrefix });
      await store.set("k", { a: 1 });
      expect(await store.consume("k")).toEqual({ a: 1 });
      // Subscribing opens a duplicate of the given client, closed with the store.
      const got: string[] = [];
      store.subscribe!("c", (message) => got.push(message));
      await expect
        .poll(
          async () => {
            await store.publish!("c", "m");
            return got.length;
          },
          { timeout: 3_000 },
        )
        .toBeGreaterThan(0);
      await store.close?.();
      expect(client.isOpen).toBe(true);
      expect(await client.ping()).toBe("PONG");
    } finally {
      await client.close();
    }
  });
});

describe("Redis store without a server", () => {
  it("subscribes to nothing, without failing, when a given client cannot be duplicated", async () => {
    const sent: string[][] = [];
    const client = {
      isOpen: true,
      sendCommand: async (args: string[]) => {
        sent.push(args);
        return 1;
      },
    };
    const store = createRedisStore({ client, keyPrefix: "p:" });
    const unsubscribe = store.subscribe!("grant-revoked", () => {});
    unsubscribe();
    await store.publish!("grant-revoked", "g");
    expect(sent).toEqual([["PUBLISH", "p:grant-revoked", "g"]]);
    await store.close?.();
  });

  it("rejects quickly, and again on the next call, when nothing listens at the URL", async () => {
    const store = createRedisStore({ url: "redis://127.0.0.1:1" });
    await expect(store.get("k")).rejects.toThrow(/cannot connect to redis:\/\/127\.0\.0\.1:1/);
    await expect(store.consume("k")).rejects.toThrow(/cannot connect/);
    await store.close?.();
    await expect(store.get("k")).rejects.toThrow(/closed/);
  }, 8_000);

  it("rejects instead of hanging when the server accepts but never answers", async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const store = createRedisStore({ url: `redis://127.0.0.1:${port}` });
    try {
      await expect(store.get("k")).rejects.toThrow(/timed out/);
    } finally {
      await store.close?.();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 15_000);

  it("bounds a command the server takes but never answers by the store's own timeout", async () => {
    // Answers the connection's set-up commands, then swallows the GET.
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      let pending = "";
      socket.on("data", (chunk) => {
        pending += chunk.toString("latin1");
        for (let command = nextCommand(pending); command; command = nextCommand(pending)) {
          pending = pending.slice(command.length);
          if (command.args[0]?.toUpperCase() !== "GET") socket.write("+OK\r\n");
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const store = createRedisStore({ url: `redis://127.0.0.1:${port}` });
    try {
      await expect(store.set("k", 1)).resolves.toBeUndefined();
      const started = Date.now();
      await expect(store.get("k")).rejects.toThrow("@portcullis/redis: Redis GET timed out after 5000 ms");
      expect(Date.now() - started).toBeGreaterThanOrEqual(4_900);
    } finally {
      // Gone first: a close waits for the swallowed command otherwise.
      for (const socket of sockets) socket.destroy();
      await store.close?.();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 15_000);

  it("hides credentials in connection errors", async () => {
    const store = createRedisStore({ url: "redis://user:hunter2@127.0.0.1:1" });
    const error = await store.get("k").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).not.toContain("hunter2");
    expect((error as Error).message).toContain("***@127.0.0.1:1");
    await store.close?.();
  }, 8_000);
});

/** The first whole RESP command (an array of bulk strings) at the start of `text`, or undefined. */
function nextCommand(text: string): { args: string[]; length: number } | undefined {
  const header = /^\*(\d+)\r\n/.exec(text);
  if (!header) return undefined;
  let at = header[0].length;
  const args: string[] = [];
  for (let i = 0; i < Number(header[1]); i++) {
    const bulk = /^\$(\d+)\r\n/.exec(text.slice(at));
    if (!bulk) return undefined;
    const start = at + bulk[0].length;
    const end = start + Number(bulk[1]);
    if (text.length < end + 2) return undefined;
    args.push(text.slice(start, end));
    at = end + 2;
  }
  return { args, length: at };
}
