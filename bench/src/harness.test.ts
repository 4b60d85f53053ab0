import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BENCH_DIR } from "./harness.js";
import type { Report } from "./report.js";

const SUBSET = ["bare-hono", "hono-memory-reused", "hono-memory-401-none", "hono-memory-refresh"];
const out = mkdtempSync(join(tmpdir(), "portcullis-bench-test-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("Benchmark harness (--quick, a subset)", () => {
  it("runs servers in their own processes under load and writes the table and JSON with every row measured", () => {
    const run = spawnSync(process.execPath, ["--conditions=portcullis:source", "--import", "tsx", "src/run.ts", "--quick", `--only=${SUBSET.join(",")}`, `--out=${out}`], {
      cwd: BENCH_DIR,
      encoding: "utf8",
      timeout: 180_000,
    });
    expect(run.status, run.stderr).toBe(0);

    const md = readFileSync(join(out, "quick.md"), "utf8");
    expect(run.stdout).toContain("| scenario |");
    const report = JSON.parse(readFileSync(join(out, "quick.json"), "utf8")) as Report;
    expect(report.results.map((r) => r.id)).toEqual(SUBSET);
    for (const r of report.results) {
      expect(r.error).toBeUndefined();
      expect(r.rps, r.id).toBeGreaterThan(0);
      expect(r.p50Ms, r.id).toBeGreaterThan(0);
      expect(r.p99Ms, r.id).toBeGreaterThanOrEqual(r.p50Ms!);
      expect(r.rssMb, r.id).toBeGreaterThan(0);
      expect(r.unexpected, `${r.id}: responses other than ${r.expectStatus}`).toBe(0);
      expect(md).toContain(`\`${r.id}\``);
    }
    // The ratio column and target lines name same-run baselines.
    expect(md).toMatch(/hono-memory-reused` \| [\d,]+ \|.*× bare-hono/);
    expect(md).toMatch(/(PASS|FAIL) — 401 no token >= 0\.8x guarded success path: \d+\.\d+×/);
    expect(existsSync(join(out, "latest.md"))).toBe(false);
  });
});
