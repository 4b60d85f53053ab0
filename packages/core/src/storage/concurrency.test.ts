import { runConcurrencySuite } from "./concurrency.js";
import { createMemoryStore } from "./memory.js";

runConcurrencySuite("memory", { open: async () => createMemoryStore() });
