export { createRedisStore } from "./store.js";
export type { RedisStoreClient, RedisStoreOptions } from "./store.js";
