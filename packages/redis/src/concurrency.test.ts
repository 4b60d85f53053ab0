import { randomUUID } from "node:crypto";
import { createClient } from "redis";
import { afterAll } from "vitest";
import { runConcurrencySuite } from "@portcullis/core/testing";
import { createRedisStore } from "./index.js";
import { REDIS_URL, redisSkipReason } from "../test/availability.js";

const url = REDIS_URL;

const skipReason = await redisSkipReason("redis concurrency");

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
