// `prepack` of every published package: a clean `tsc -b` of the package in the working directory,
// so the tarball holds exactly what the current sources compile to (no stale files in dist/).
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createRequire } from "node:module";

rmSync("dist", { recursive: true, force: true });
rmSync("tsconfig.tsbuildinfo", { force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const result = spawnSync(process.execPath, [tsc, "-b", "tsconfig.json"], { stdio: "inherit" });
process.exit(result.status ?? 1);
