import { describe, expect, it } from "vitest";
import type { ScenarioResult } from "./harness.js";
import { evaluateTargets, markdown, type Report } from "./report.js";

const result = (id: string, rps: number, extra: Partial<ScenarioResult> = {}): ScenarioResult => ({
  id,
  label: id,
  group: id.startsWith("hono-") ? "portcullis hono/memory" : "baseline",
  unit: "req/s",
  rps,
  runs: [{ rps }],
  ...extra,
});

describe("Benchmark report: floors beside the refresh and registration targets", () => {
  const results = [
    result("sdk-refresh", 4000),
    result("floor-hono-refresh", 3600),
    result("floor-node-refresh", 9200, {
      compare: "sdk-refresh",
      paired: { ratio: 2.5, baselineRps: 3680, ratios: [2.5], baselineCpu: { total: 260, main: 240 } },
      cpu: { total: 104.4, main: 60 },
    }),
    result("floor-hono-refresh-duties", 5600, {
      compare: "sdk-refresh",
      paired: { ratio: 1.47, baselineRps: 3810, ratios: [1.47], baselineCpu: { total: 222, main: 193 } },
    }),
    result("hono-memory-refresh", 2400, { cpu: { total: 390, main: 300.2 } }),
    result("hono-postgres-refresh", 900, { cpu: { total: 1000, main: 800, service: 402 } }),
    result("sdk-register", 3000),
    result("floor-node-register", 15000, { error: "exited" }),
    result("hono-memory-register", 4500, {
      facts: { registrations: 142861, rssAfterRegistrationsMb: 307.4, fillRegistrationsPerSecond: 0, filledRegistrations: 0 },
    }),
    result("hono-sqlite-register", 4400, {
      group: "portcullis hono/sqlite",
      facts: { registrations: 100000, rssAfterRegistrationsMb: 161, fillRegistrationsPerSecond: 2450, filledRegistrations: 31000 },
    }),
    result("bare-hono", 10000),
    result("floor-hono-middleware", 8900, {
      compare: "bare-hono",
      paired: { ratio: 0.88, baselineRps: 10100, ratios: [0.88], baselineCpu: { total: 100, main: 98 } },
    }),
    result("hono-memory-reused", 7000),
    result("bare-express", 3000),
    result("floor-express-middleware", 2850, {
      compare: "bare-express",
      paired: { ratio: 0.95, baselineRps: 3000, ratios: [0.95], baselineCpu: { total: 300, main: 280 } },
    }),
    result("express-memory-reused", 2400, { group: "portcullis express/memory" }),
  ];

  it("measures each floor against the target's own baseline (its paired ratio when it has one), leaving out a floor that errored or did not run", () => {
    const targets = evaluateTargets(results);
    const refresh = targets.find((t) => t.scenario === "hono-memory-refresh")!;
    expect(refresh).toMatchObject({ verdict: "FAIL", ratio: 0.6 });
    expect(refresh.floorRatios).toEqual({ "floor-hono-refresh": 0.9, "floor-hono-refresh-duties": 1.47, "floor-node-refresh": 2.5 });
    const register = targets.find((t) => t.scenario === "hono-memory-register")!;
    expect(register).toMatchObject({ verdict: "FAIL", ratio: 1.5 });
    expect(register.floorRatios).toEqual({});
    // The Hono reused-token line's floor is any Hono middleware; lines without a floor carry none.
    const reused = targets.find((t) => t.scenario === "hono-memory-reused" && t.baseline === "bare-hono")!;
    expect(reused).toMatchObject({ verdict: "FAIL", ratio: 0.7 });
    expect(reused.floorRatios).toEqual({ "floor-hono-middleware": 0.88 });
    // The Express line's floor is the adapter's mounting with middlewares that do nothing.
    const express = targets.find((t) => t.baseline === "bare-express")!;
    expect(express).toMatchObject({ verdict: "FAIL", ratio: 0.8 });
    expect(express.floorRatios).toEqual({ "floor-express-middleware": 0.95 });
    expect(targets.find((t) => t.baseline === "bare-node")!.floorRatios).toBeUndefined();
    expect(targets.find((t) => t.baseline === "sdk-bearer")!.floorRatios).toBeUndefined();
  });

  it("prints the floors on the target line, and nothing extra where none was measured", () => {
    const report: Report = {
      startedAt: "2026-12-02T00:00:00Z",
      finishedAt: "2026-12-02T00:10:00Z",
      machine: { cpuModel: "cpu", cpus: 2, host: "virtual machine", memoryGb: 24, node: "v20", os: "linux", loadAverageAtStart: 0.1 },
      settings: { quick: false, runs: 1, runSeconds: 1, warmupSeconds: 1, connections: 50 } as Report["settings"],
      loadGenerator: "wrk",
      workerBundle: "not measured",
      results,
      targets: evaluateTargets(results),
    };
    const md = markdown(report);
    expect(md).toContain(
      "- FAIL — Refresh grant (memory) >= 1.5x MCP SDK refresh grant: 0.60× (floors: floor-hono-refresh 0.90×, floor-hono-refresh-duties 1.47×, floor-node-refresh 2.50×)",
    );
    expect(md).toContain("- FAIL — Registration (memory) >= 2x MCP SDK registration: 1.50×\n");
    // The host says when it is a virtual machine, where system calls cost more.
    expect(md).toContain("· cpu × 2 (virtual machine) · 24 GB");
    // The server's CPU per request, and for a paired row its baseline's, in the row's notes.
    expect(md).toMatch(/`floor-node-refresh` .*server CPU per request 104 µs \(main thread 60\), sdk-refresh 260 µs \(main thread 240\)/);
    expect(md).toMatch(/`hono-memory-refresh` .*server CPU per request 390 µs \(main thread 300\) \|/);
    // A PostgreSQL or Redis row also says what the database server spent per request.
    expect(md).toMatch(/`hono-postgres-refresh` .*server CPU per request 1,000 µs \(main thread 800; the database server's own 402 µs\) \|/);
    // Registrations the measured runs made themselves are not reported as topped up at 0/s.
    expect(md).toMatch(/`hono-memory-register` .*RSS 307.4 MB after 142,861 registrations \(all in the measured runs\) \|/);
    expect(md).toMatch(/`hono-sqlite-register` .*RSS 161 MB after 100,000 registrations \(the last 31,000 at 2,450\/s\) \|/);
  });
});
