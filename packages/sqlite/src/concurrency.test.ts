import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { runConcurrencySuite } from "@portcullis/core/testing";
import { createSqliteStore } from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "portcullis-sqlite-race-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

runConcurrencySuite("sqlite", { open: async () => createSqliteStore({ path: join(dir, `race-${++files}.db`) }) });
