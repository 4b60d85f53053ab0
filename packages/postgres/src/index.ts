export { createPostgresStore } from "./store.js";
export type { PostgresQueryResult, PostgresStoreConnection, PostgresStoreOptions, PostgresStorePool } from "./store.js";
