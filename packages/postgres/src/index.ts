export { createPostgresStore } from "./store.js";
export type { PostgresQueryResult, PostgresStatement, PostgresStoreConnection, PostgresStoreOptions, PostgresStorePool } from "./store.js";
