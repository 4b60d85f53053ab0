/** The Markdown table, the target lines and the JSON document of one run. */
import type { CpuPerRequest, ScenarioResult, Settings } from "./harness.js";
import { growthStore, WORKER_LABEL, type Store } from "./scenarios.js";

export interface Target {
  name: string;
  scenario: string;
  baseline: string;
  min: number;
  /**
   * Floors (floor.ts) measured against the same baseline: what the least server meeting the
   * same duties reaches, through the Fetch objects (bare Hono) and without them (node:http).
   */
  floors?: string[];
  ratio?: number;
  floorRatios?: Record<string, number>;
  verdict: "PASS" | "FAIL" | "n/a";
}

export interface Report {
  startedAt: string;
  finishedAt: string;
  machine: Record<string, string | number>;
  settings: Settings;
  loadGenerator: string;
  workerBundle: string;
  results: ScenarioResult[];
  targets: Target[];
}

const FLOORS = {
  reused: ["floor-hono-middleware"],
  reusedExpress: ["floor-express-middleware"],
  // The duties floor adds what Portcullis's refresh must do besides (reuse detection, the retry record).
  refresh: ["floor-hono-refresh", "floor-hono-refresh-duties", "floor-node-refresh"],
  register: ["floor-hono-register", "floor-hono-register-duties", "floor-node-register"],
};

const TARGETS: Array<Omit<Target, "ratio" | "floorRatios" | "verdict">> = [
  { name: "Guarded endpoint, reused token (Hono) >= 0.85x bare Hono", scenario: "hono-memory-reused", baseline: "bare-hono", min: 0.85, floors: FLOORS.reused },
  { name: "Guarded endpoint, reused token (Hono) >= 5x MCP SDK Express bearer gate", scenario: "hono-memory-reused", baseline: "sdk-bearer", min: 5 },
  {
    name: "Guarded endpoint, reused token (Express) >= 0.85x bare Express",
    scenario: "express-memory-reused",
    baseline: "bare-express",
    min: 0.85,
    floors: FLOORS.reusedExpress,
  },
  { name: "Guarded endpoint, reused token (Node) >= 0.85x bare node:http", scenario: "node-memory-reused", baseline: "bare-node", min: 0.85 },
  { name: "Fresh token per request (Hono, memory) >= 0.8x raw jose verify", scenario: "hono-memory-fresh", baseline: "jose-verify", min: 0.8 },
  { name: "Fresh token per request (Hono, SQLite) >= 0.8x raw jose verify", scenario: "hono-sqlite-fresh", baseline: "jose-verify", min: 0.8 },
  { name: "Fresh token per request (Hono, Redis) >= 0.8x raw jose verify", scenario: "hono-redis-fresh", baseline: "jose-verify", min: 0.8 },
  { name: "401 no token >= 0.8x guarded success path", scenario: "hono-memory-401-none", baseline: "hono-memory-reused", min: 0.8 },
  { name: "401 bad signature >= 0.8x guarded success path", scenario: "hono-memory-401-badsig", baseline: "hono-memory-reused", min: 0.8 },
  { name: "Refresh grant (memory) >= 1.5x MCP SDK refresh grant", scenario: "hono-memory-refresh", baseline: "sdk-refresh", min: 1.5, floors: FLOORS.refresh },
  { name: "Refresh grant (SQLite) >= 1.5x MCP SDK refresh grant", scenario: "hono-sqlite-refresh", baseline: "sdk-refresh", min: 1.5, floors: FLOORS.refresh },
  { name: "Refresh grant (Redis) >= 1.5x MCP SDK refresh grant", scenario: "hono-redis-refresh", baseline: "sdk-refresh", min: 1.5, floors: FLOORS.refresh },
  { name: "Registration (memory) >= 2x MCP SDK registration", scenario: "hono-memory-register", baseline: "sdk-register", min: 2, floors: FLOORS.register },
  { name: "Registration (SQLite) >= 2x MCP SDK registration", scenario: "hono-sqlite-register", baseline: "sdk-register", min: 2, floors: FLOORS.register },
  { name: "Registration (Redis) >= 2x MCP SDK registration", scenario: "hono-redis-register", baseline: "sdk-register", min: 2, floors: FLOORS.register },
  { name: "Fresh token per request (Hono, PostgreSQL) >= 0.8x raw jose verify", scenario: "hono-postgres-fresh", baseline: "jose-verify", min: 0.8 },
  {
    name: "Refresh grant (PostgreSQL) >= 1.5x MCP SDK refresh grant",
    scenario: "hono-postgres-refresh",
    baseline: "sdk-refresh",
    min: 1.5,
    floors: FLOORS.refresh,
  },
  {
    name: "Registration (PostgreSQL) >= 2x MCP SDK registration",
    scenario: "hono-postgres-register",
    baseline: "sdk-register",
    min: 2,
    floors: FLOORS.register,
  },
];

export function evaluateTargets(results: ScenarioResult[]): Target[] {
  const byId = new Map(results.map((r) => [r.id, r]));
  const list = [...TARGETS];
  // Cost growth, per store: the most live grants measured against the fewest (an errored run
  // counts, so a failed 1M makes the line n/a rather than comparing 100k instead).
  const names: Record<Store, string> = { memory: "memory", sqlite: "SQLite", redis: "Redis", postgres: "PostgreSQL" };
  for (const store of ["memory", "sqlite", "redis", "postgres"] as const) {
    const growth = results.filter((r) => growthStore(r.id) === store);
    const size = (r: ScenarioResult) => r.id.slice(r.id.lastIndexOf("-") + 1);
    if (growth.length >= 2) {
      const first = growth[0]!;
      const last = growth.at(-1)!;
      list.push({ name: `Refresh at ${size(last)} live grants >= 0.8x at ${size(first)} (${names[store]})`, scenario: last.id, baseline: first.id, min: 0.8 });
    } else {
      list.push({
        name: `Refresh with the most live grants >= 0.8x with the fewest (${names[store]})`,
        scenario: `growth-${store}-not-run`,
        baseline: `growth-${store}-not-run`,
        min: 0.8,
      });
    }
  }
  return list.map((t) => {
    const a = byId.get(t.scenario);
    const b = byId.get(t.baseline);
    if (!a || !b || a.error || b.error || !(b.rps > 0)) return { ...t, verdict: "n/a" };
    const ratio = a.paired && a.compare === t.baseline ? a.paired.ratio : a.rps / b.rps;
    const floorRatios: Record<string, number> = {};
    for (const id of t.floors ?? []) {
      const floor = byId.get(id);
      if (floor && !floor.error && floor.rps > 0) floorRatios[id] = floor.paired && floor.compare === t.baseline ? floor.paired.ratio : floor.rps / b.rps;
    }
    return { ...t, ratio, ...(t.floors ? { floorRatios } : {}), verdict: ratio >= t.min ? "PASS" : "FAIL" };
  });
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || !Number.isFinite(n) ? "–" : n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function markdown(report: Report): string {
  const byId = new Map(report.results.map((r) => [r.id, r]));
  const m = report.machine;
  const s = report.settings;
  const lines = [
    `# Portcullis benchmark${s.quick ? " (quick)" : ""}`,
    "",
    `${report.startedAt} · ${m.cpuModel} × ${m.cpus}${m.host === "virtual machine" ? " (virtual machine)" : ""} · ${m.memoryGb} GB · Node ${m.node} · ${m.os} · load generator: ${report.loadGenerator} ` +
      `(${s.connections} connections) · ${s.runs} × ${s.runSeconds} s after ${s.warmupSeconds} s warm-up, medians · load average at start ${m.loadAverageAtStart}`,
    "",
    "Server and load generator share the machine (one core each on 2 cores); other work on it adds noise. Ratios are against baselines measured in the same run; a ratio marked (paired) comes from runs alternated with its baseline's, which a host whose speed drifts moves alike.",
    "",
    "| scenario | id | req/s | p50 ms | p99 ms | RSS MB | ratio | notes |",
    "|---|---|---:|---:|---:|---:|---:|---|",
  ];
  let group = "";
  for (const r of report.results) {
    if (r.group !== group) {
      group = r.group;
      lines.push(`| **${group}** | | | | | | | |`);
    }
    const base = r.compare ? byId.get(r.compare) : undefined;
    const ratio = r.paired
      ? `${r.paired.ratio.toFixed(2)}× ${r.compare} (paired)`
      : base && !base.error && base.rps > 0 && !r.error
        ? `${(r.rps / base.rps).toFixed(2)}× ${r.compare}`
        : "";
    const notes: string[] = [];
    if (r.error) notes.push(`ERROR: ${r.error.split("\n")[0]!.slice(0, 160)}`);
    if (r.unit === "ops/s") notes.push("ops/s, no HTTP");
    if (r.paired)
      notes.push(
        `runs alternated with ${r.compare} runs (${fmt(r.paired.baselineRps)} req/s there); ratio = median of the per-pair ratios ${r.paired.ratios.map((x) => x.toFixed(2)).join(", ")}`,
      );
    const cpu = (c: CpuPerRequest) =>
      `${fmt(c.total)} µs (main thread ${fmt(c.main)}${c.service !== undefined ? `; the database server's own ${fmt(c.service)} µs` : ""})`;
    if (r.cpu) notes.push(`server CPU per request ${cpu(r.cpu)}${r.paired?.baselineCpu ? `, ${r.compare} ${cpu(r.paired.baselineCpu)}` : ""}`);
    if (r.unexpected) notes.push(`${fmt(r.unexpected)} responses other than ${r.expectStatus}`);
    if (r.socketErrors) notes.push(`${fmt(r.socketErrors)} socket errors`);
    const f = r.facts ?? {};
    if (f.liveGrants !== undefined) notes.push(`${fmt(Number(f.liveGrants))} live grants pre-loaded in ${f.preloadSeconds} s`);
    if (f.registrations !== undefined) {
      // The measured runs may register the whole target themselves; then nothing was topped up.
      const filled = Number(f.filledRegistrations ?? f.registrations);
      notes.push(
        `RSS ${f.rssAfterRegistrationsMb} MB after ${fmt(Number(f.registrations))} registrations (${filled > 0 ? `the last ${fmt(filled)} at ${fmt(Number(f.fillRegistrationsPerSecond))}/s` : "all in the measured runs"})`,
      );
    }
    if (r.note) notes.push(r.note);
    lines.push(
      `| ${r.label} | \`${r.id}\` | ${fmt(r.rps)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${fmt(r.rssMb)} | ${ratio} | ${notes.join("; ").replaceAll("|", "\\|")} |`,
    );
  }
  lines.push("", "## Targets", "");
  for (const t of report.targets) {
    const floors = Object.entries(t.floorRatios ?? {}).map(([id, ratio]) => `${id} ${ratio.toFixed(2)}×`);
    lines.push(
      `- ${t.verdict} — ${t.name}: ${t.ratio === undefined ? "not measured" : `${t.ratio.toFixed(2)}×`}${floors.length > 0 ? ` (floors: ${floors.join(", ")})` : ""}`,
    );
  }
  lines.push("", `Worker bundle (examples/cloudflare-worker, as its build script writes it; gzip level 6): ${report.workerBundle}`);
  // The Worker's ratio has no target: it says what the guard costs in workerd, not on Cloudflare's edge.
  const worker = byId.get("worker-reused");
  if (worker) {
    const paired = worker.error ? undefined : worker.paired;
    lines.push(
      "",
      `Worker guarded against unguarded (\`worker-reused\` against \`worker-bare\`, a tools/list, runs alternated; ${WORKER_LABEL}, no target): ` +
        (paired ? `${paired.ratio.toFixed(2)}× (paired), ${fmt(worker.rps)} req/s guarded against ${fmt(paired.baselineRps)} req/s unguarded` : "not measured"),
    );
  }
  lines.push("");
  return lines.join("\n");
}
