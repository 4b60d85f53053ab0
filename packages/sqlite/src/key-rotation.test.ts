import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { describeSharedKeyRotation } from "../../core/test/key-rotation/suite.js";
import { createSqliteStore } from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "portcullis-sqlite-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

// Each instance opens the file on its own, as separate processes on one machine would.
describeSharedKeyRotation("one SQLite file", {
  open: async (clock) => {
    const path = join(dir, `keys-${++files}.db`);
    const opened: ReturnType<typeof createSqliteStore>[] = [];
    return {
      connect: () => {
        const store = createSqliteStore({ path, now: clock.now });
        opened.push(store);
        return store;
      },
      close: async () => {
        await Promise.all(opened.map((store) => store.close?.()));
      },
    };
  },
});
