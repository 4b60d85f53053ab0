/**
 * `@portcullis/core/testing`: the suites every Portcullis store must pass, for store authors, and
 * the request parameter names hostile-input tests send values under.
 * They declare Vitest tests (`describe`/`it`), so call them at the top level of a test file run
 * by Vitest, which this entry needs as a peer dependency. Nothing in the main entry imports it.
 *
 * @example
 * import { runConcurrencySuite, runStorageContract } from "@portcullis/core/testing";
 * runStorageContract("my store", { open: async (clock) => createMyStore({ now: clock.now }), usesClock: true });
 * runConcurrencySuite("my store", { open: async () => createMyStore() });
 */
export { runStorageContract } from "./storage-contract.js";
export type { ContractClock, StoreHarness } from "./storage-contract.js";
export { runConcurrencySuite } from "./concurrency.js";
export type { ConcurrencyHarness } from "./concurrency.js";
export { REQUEST_PARAMETER_NAMES } from "./request-parameters.js";
