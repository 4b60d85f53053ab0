import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BENCH_DIR, readCpuMs, readServiceCpuMs } from "./harness.js";
import type { Report } from "./report.js";

const SUBSET = ["bare-hono", "floor-hono-refresh", "hono-memory-reused", "hono-memory-401-none", "hono-memory-refresh"];
const out = mkdtempSync(join(tmpdir(), "portcullis-bench-test-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function runBench(args: string[], timeout = 180_000) {
  return spawnSync(process.execPath, ["--conditions=portcullis:source", "--import", "tsx", "src/run.ts", "--quick", ...args], {
    cwd: BENCH_DIR,
    encoding: "utf8",
    timeout,
  });
}

function expectMeasured(report: Report, md: string) {
  for (const r of report.results) {
    expect(r.error).toBeUndefined();
    expect(r.rps, r.id).toBeGreaterThan(0);
    expect(r.p50Ms, r.id).toBeGreaterThan(0);
    expect(r.p99Ms, r.id).toBeGreaterThanOrEqual(r.p50Ms!);
    expect(r.rssMb, r.id).toBeGreaterThan(0);
    expect(r.unexpected, `${r.id}: responses other than ${r.expectStatus}`).toBe(0);
    // The server's own CPU per request, read from /proc around each measured run.
    if (r.unit === "req/s") {
      expect(r.cpu?.total, r.id).toBeGreaterThan(0);
      expect(r.cpu!.main, r.id).toBeLessThanOrEqual(r.cpu!.total);
    }
    if (r.paired) expect(r.paired.baselineCpu?.total, r.id).toBeGreaterThan(0);
    expect(md).toContain(`\`${r.id}\``);
  }
}

describe("A database service's CPU (readServiceCpuMs)", () => {
  it("sums every process of the command, this one included, and is undefined when none runs", () => {
    // Spend some CPU first, so this process's own share is not zero.
    for (let until = Date.now() + 30; Date.now() < until; );
    const own = readCpuMs(process.pid)!;
    expect(own).toBeGreaterThan(0);
    expect(readServiceCpuMs("node")).toBeGreaterThanOrEqual(own);
    expect(readServiceCpuMs("no-such-command-here")).toBeUndefined();
  });
});

describe("Benchmark harness (--quick, a subset)", () => {
  it("runs servers in their own processes under load and writes the table and JSON with every row measured", () => {
    const run = runBench([`--only=${SUBSET.join(",")}`, `--out=${out}`]);
    expect(run.status, run.stderr).toBe(0);

    const md = readFileSync(join(out, "quick.md"), "utf8");
    expect(run.stdout).toContain("| scenario |");
    const report = JSON.parse(readFileSync(join(out, "quick.json"), "utf8")) as Report;
    expect(report.results.map((r) => r.id)).toEqual(SUBSET);
    expectMeasured(report, md);
    // The ratio column and target lines name same-run baselines.
    expect(md).toMatch(/hono-memory-reused` \| [\d,]+ \|.*× bare-hono \(paired\)/);
    // The reused-token row alternated its runs with a bare-hono server of its own; its target line uses the paired ratio.
    const reused = report.results.find((r) => r.id === "hono-memory-reused")!;
    expect(reused.paired?.ratios).toHaveLength(report.settings.runs);
    expect(reused.paired!.baselineRps).toBeGreaterThan(0);
    expect(report.targets.find((t) => t.scenario === "hono-memory-reused" && t.baseline === "bare-hono")?.ratio).toBe(reused.paired!.ratio);
    expect(md).toMatch(/(PASS|FAIL) — 401 no token >= 0\.8x guarded success path: \d+\.\d+×/);
    expect(existsSync(join(out, "latest.md"))).toBe(false);
  });

  it("measures cost growth on SQLite with its own target line, the guarded Worker in workerd paired with an unguarded one, and --cpu-prof profiles of the load only", () => {
    const ids = ["growth-sqlite-1k", "growth-sqlite-100k", "worker-reused"];
    const dir = join(out, "growth");
    const run = runBench([`--only=${ids.join(",")}`, `--out=${dir}`, "--cpu-prof"], 230_000);
    expect(run.status, run.stderr).toBe(0);

    const md = readFileSync(join(dir, "quick.md"), "utf8");
    const report = JSON.parse(readFileSync(join(dir, "quick.json"), "utf8")) as Report;
    expect(report.results.map((r) => r.id)).toEqual(ids);
    expectMeasured(report, md);
    expect(report.results[1]!.facts?.liveGrants).toBe(100_000);
    expect(md).toMatch(/(PASS|FAIL) — Refresh at 100k live grants >= 0\.8x at 1k \(SQLite\): \d+\.\d+×/);
    expect(md).toMatch(/n\/a — Refresh with the most live grants >= 0\.8x with the fewest \(memory\): not measured/);
    // The guarded Worker alternated its runs with the unguarded one (started alongside, not a row of its own here).
    const worker = report.results.find((r) => r.id === "worker-reused")!;
    expect(worker.paired?.ratios).toHaveLength(report.settings.runs);
    expect(worker.paired!.baselineRps).toBeGreaterThan(0);
    expect(md).toMatch(/worker-reused` \| [\d,]+ \|.*× worker-bare \(paired\)/);
    expect(md).toContain(
      `Worker guarded against unguarded (\`worker-reused\` against \`worker-bare\`, a tools/list, runs alternated; miniflare (workerd) on this machine, no target): ${worker.paired!.ratio.toFixed(2)}× (paired)`,
    );
    expect(report.workerBundle).toMatch(/KiB gzipped/);

    // One profile per server, started once it was ready: the refresh grants are in it, the preload is not.
    for (const id of ids) {
      const files = readdirSync(join(dir, "profiles", id)).filter((f) => f.endsWith(".cpuprofile"));
      expect(files, id).toHaveLength(1);
    }
    const file = join(dir, "profiles", "growth-sqlite-100k", readdirSync(join(dir, "profiles", "growth-sqlite-100k"))[0]!);
    const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: Array<{ callFrame: { functionName: string; url: string } }> };
    // The servers run the packages as built (dist/), as installed from npm, not their sources.
    expect(profile.nodes.some((n) => n.callFrame.url.includes("/packages/core/dist/"))).toBe(true);
    expect(profile.nodes.some((n) => n.callFrame.url.includes("/packages/core/src/"))).toBe(false);
    const fixtures = new Set(profile.nodes.filter((n) => n.callFrame.url.includes("/bench/src/servers/")).map((n) => n.callFrame.functionName));
    for (const fixture of ["preload", "bulkWriter", "signIn"]) expect(fixtures).not.toContain(fixture);
    const summary = spawnSync(process.execPath, ["--import", "tsx", "src/profile-summary.ts", file, "5"], { cwd: BENCH_DIR, encoding: "utf8" });
    expect(summary.status, summary.stderr).toBe(0);
    expect(summary.stdout).toMatch(/ms sampled[\s\S]*self time:[\s\S]*inclusive time:/);
  });
});
