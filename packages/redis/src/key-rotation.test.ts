import { randomUUID } from "node:crypto";
import { createClient } from "redis";
import { afterAll } from "vitest";
import { describeSharedKeyRotation } from "../../core/test/key-rotation/suite.js";
import { createRedisStore } from "./index.js";
import { REDIS_URL, redisSkipReason } from "../test/availability.js";

const skipReason = await redisSkipReason("redis key rotation");
const run = `portcullis-keys:${randomUUID()}:`;
let stores = 0;

afterAll(async () => {
  if (skipReason) return;
  const raw = createClient({ url: REDIS_URL });
  raw.on("error", () => {});
  await raw.connect();
  for await (const keys of raw.scanIterator({ MATCH: `${run}*`, COUNT: 1000 })) {
    if (keys.length > 0) await raw.unlink(keys);
  }
  await raw.close();
});

// Each instance has its own connection, as separate processes would; they share one key prefix.
describeSharedKeyRotation("one Redis", {
  skipReason,
  open: async () => {
    const keyPrefix = `${run}${++stores}:`;
    const opened: ReturnType<typeof createRedisStore>[] = [];
    return {
      connect: () => {
        const store = createRedisStore({ url: REDIS_URL, keyPrefix });
        opened.push(store);
        return store;
      },
      close: async () => {
        await Promise.all(opened.map((store) => store.close?.()));
      },
    };
  },
});
