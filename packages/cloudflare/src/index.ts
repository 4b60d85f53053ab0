export { withPortcullis } from "./worker.js";
export type { PortcullisSetup, PortcullisWorkerHandler, PortcullisWorkerOptions } from "./worker.js";
export type { Handles } from "@portcullis/core";
export { createDurableObjectStore, PortcullisStorageObject } from "./durable-object-store.js";
export type { DurableObjectStoreOptions } from "./durable-object-store.js";
export type { DurableObjectNamespaceLike, DurableObjectState, ExecutionContext } from "./workers.js";
