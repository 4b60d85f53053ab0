import { createMemoryStore, type Storage } from "@portcullis/core";

/** Opens the store named by `STORE`: `memory` (more to come: `sqlite:<file>`, `redis://...`). */
export async function openStore(spec: string): Promise<Storage> {
  if (spec === "memory") return createMemoryStore();
  throw new Error(`STORE=${spec} is not supported here; use memory`);
}
