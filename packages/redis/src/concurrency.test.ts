import { randomUUID } from "node:crypto";
import { createClient } from "redis";
import { afterAll } from "vitest";
import { runConcurrencySuite } from "@portcullis/core/storage/concurrency";
import { createRedisStore } from "./index.js";

const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** Undefined when a Redis server answers PING within about a second, else why not. */
async function probe(): Promise<string | undefined> {
  const client = createClient({ url, socket: { connectTimeout: 1_000, reconnectStrategy: false } });
  client.on("error", () => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no answer within 1 s")), 1_000);
    });
    await Promise.race([client.connect().then(() => client.ping()), deadline]);
    return undefined;
  } catch (error) {
    return `no Redis server at ${url} (${error instanceof Error ? error.message || error.name : String(error)})`;
  } finally {
    clearTimeout(timer);
    if (client.isOpen) client.destroy();
  }
}

const skipReason = await probe();
if (skipReason && process.env.CI) throw new Error(`${skipReason}; CI must run the Redis tests`);
if (skipReason) console.warn(`[redis concurrency] skipped: ${skipReason}`);

const run = `portcullis-race:${randomUUID()}:`;
let stores = 0;
afterAll(async () => {
  if (skipReason) return;
  const raw = createClient({ url });
  raw.on("error", () => {});
  await raw.connect();
  for await (const keys of raw.scanIterator({ MATCH: `${run}*`, COUNT: 1000 })) {
    if (keys.length > 0) await raw.unlink(keys);
  }
  await raw.close();
});

runConcurrencySuite("redis", { skipReason, open: async () => createRedisStore({ url, keyPrefix: `${run}${++stores}:` }) });
