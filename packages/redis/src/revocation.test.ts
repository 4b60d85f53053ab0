import { afterAll } from "vitest";
import { describeRevocationBroadcast } from "../../core/test/revocation/suite.js";
import { randomUUID } from "node:crypto";
import { createClient } from "redis";
import { createRedisStore } from "./index.js";
import { REDIS_URL, redisSkipReason } from "../test/availability.js";

const skipReason = await redisSkipReason("redis revocation");
const keyPrefix = `portcullis-revoke:${randomUUID()}:`;
afterAll(async () => {
  if (skipReason) return;
  const raw = createClient({ url: REDIS_URL });
  raw.on("error", () => {});
  await raw.connect();
  for await (const keys of raw.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 })) {
    if (keys.length > 0) await raw.unlink(keys);
  }
  await raw.close();
});

// Each instance has its own connection and subscriber on the shared key prefix.
describeRevocationBroadcast("one Redis", { skipReason, mechanism: "pub/sub", connect: () => createRedisStore({ url: REDIS_URL, keyPrefix }) });
