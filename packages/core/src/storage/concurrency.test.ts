import { runConcurrencySuite } from "../testing/index.js";
import { createMemoryStore } from "./memory.js";

runConcurrencySuite("memory", { open: async () => createMemoryStore() });
