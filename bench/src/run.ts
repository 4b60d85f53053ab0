/**
 * `npm run bench [-- --quick] [--only=id,id] [--out=dir] [--load=wrk|autocannon]`: runs the
 * baselines and the Portcullis scenarios, writes `results/<stamp>.json` plus `results/latest.md`
 * (`results/quick.md` for --quick, `results/partial.md` for --only) and prints the table with the target lines. `--cpu-prof` makes
 * every server write a V8 CPU profile of the measured load (from the moment it reports ready until
 * it is stopped) under `<out>/profiles/<scenario>/`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { BENCH_DIR, runHttpScenario, runOpsScenario, type HttpScenario, type ScenarioResult, type Settings } from "./harness.js";
import { parseBenchArgs } from "./args.js";
import { createLoadGenerator } from "./load.js";
import { evaluateTargets, markdown, type Report } from "./report.js";
import { scenarios } from "./scenarios.js";
import { POSTGRES_BENCH_URL } from "./servers/common.js";

const QUICK: Settings = { quick: true, warmupSeconds: 1, runSeconds: 1, runs: 1, connections: 50, registrationFill: 5_000 };
const FULL: Settings = { quick: false, warmupSeconds: 2, runSeconds: 5, runs: 3, connections: 50, registrationFill: 100_000 };
// Every id a full run on a machine with every store and adapter would measure.
const parsed = parseBenchArgs(
  process.argv.slice(2),
  scenarios(FULL, { redis: true, postgres: true, adapters: ["express", "node"], worker: true }).map((s) => s.id),
);
if ("error" in parsed) {
  process.stderr.write(`npm run bench: ${parsed.error}\n`);
  process.exit(2);
}
const { quick, only, load: prefer, cpuProfile } = parsed;
const outDir = resolve(parsed.out ?? join(BENCH_DIR, "results"));

const settings = quick ? QUICK : FULL;

const ROOT = join(BENCH_DIR, "..");
// The servers load the packages from dist/, as an install from npm does: build them now, so a run
// never measures stale output (tsc -b does nothing when dist/ is current).
const built = spawnSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-b"], { cwd: ROOT, encoding: "utf8" });
if (built.status !== 0) {
  process.stderr.write(`npm run bench: the packages do not build (tsc -b):\n${built.stdout}${built.stderr}`);
  process.exit(1);
}
const startedAt = new Date();
const loadAverageAtStart = loadavg()
  .map((n) => n.toFixed(2))
  .join(" ");
const redis = await redisAnswers();
const postgres = await postgresAnswers();
const adapters = (["express", "node"] as const).filter((a) => existsSync(join(ROOT, "packages", a, "src", "index.ts")));
const WORKER_DIR = join(ROOT, "examples", "cloudflare-worker");
const hasWorker = existsSync(join(WORKER_DIR, "src", "build.ts"));
const load = await createLoadGenerator(prefer);
const log = (line: string) => process.stderr.write(`${line}\n`);

const all = scenarios(settings, { redis, postgres, adapters: [...adapters], worker: hasWorker });
const selected = only ? all.filter((s) => only.includes(s.id) || (s.kind === "ops" && only.some((o) => o.startsWith("jose")))) : all;
log(
  `Portcullis benchmark${quick ? " (quick)" : ""}: ${selected.length} scenarios, load generator ${load.name}, Redis ${redis ? "answers" : "absent"}, PostgreSQL ${postgres ? "answers" : "absent"}, adapters hono${adapters.map((a) => `, ${a}`).join("")}`,
);
// The Worker's bundle is built (and measured) before any scenario: the Worker scenarios serve it.
const servesWorker = selected.some((s) => s.kind === "http" && s.script === "worker.ts");
const bundle = only && !servesWorker ? { text: "not measured (--only)", built: false } : workerBundle();
if (only && !servesWorker) log(`Worker bundle: ${bundle.text}`);

const results: ScenarioResult[] = [];
for (const s of selected) {
  log(`- ${s.kind === "ops" ? "jose ES256 verify/sign" : s.id}`);
  if (s.kind === "ops") results.push(...(await runOpsScenario(s, settings)));
  else if (s.script === "worker.ts" && !bundle.built) {
    results.push({ id: s.id, label: s.label, group: s.group, unit: "req/s", rps: 0, runs: [], error: `no fresh Worker bundle: ${bundle.text}` });
  } else {
    // --cpu-prof: each server profiles the measured load (see src/profile-summary.ts to read one).
    const baseline = s.paired ? all.find((b): b is HttpScenario => b.kind === "http" && b.id === s.compare) : undefined;
    results.push(await runHttpScenario(cpuProfile ? { ...s, profileDir: join(outDir, "profiles", s.id) } : s, load, settings, log, baseline));
  }
  const last = results.at(-1)!;
  if (last.error) log(`    ERROR ${last.error.split("\n").slice(0, 6).join("\n    ")}`);
  else log(`    => ${Math.round(last.rps)} ${last.unit}${last.rssMb ? `, RSS ${Math.round(last.rssMb)} MB` : ""}`);
}
await load.close();

const report: Report = {
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  machine: {
    cpuModel: cpus()[0]?.model.trim() ?? "unknown CPU",
    cpus: cpus().length,
    // The CPU flag a hypervisor sets for its guests (Linux): system calls cost more under one.
    host: cpuFlags().includes("hypervisor") ? "virtual machine" : "no hypervisor seen",
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.versions.node,
    os: `Linux ${release()}`,
    loadAverageAtStart,
  },
  settings,
  loadGenerator: load.name,
  workerBundle: bundle.text,
  results,
  targets: evaluateTargets(results),
};
mkdirSync(outDir, { recursive: true });
const stamp = startedAt.toISOString().replaceAll(":", "-").replace(/\..*/, "");
const md = markdown(report);
writeFileSync(join(outDir, `${quick ? "quick-" : ""}${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
// latest.* is the last full run, the one the README quotes; partial and quick runs go elsewhere.
const name = quick ? "quick" : only ? "partial" : "latest";
writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(outDir, `${name}.md`), md);
process.stdout.write(md);
process.exit(results.some((r) => r.error) ? 1 : 0);

/** Whether a Redis server answers PING on 127.0.0.1:6379 within half a second. */
function redisAnswers(): Promise<boolean> {
  return new Promise((done) => {
    const socket = new Socket();
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once("error", () => finish(false));
    socket.once("data", (d) => finish(d.toString().startsWith("+PONG")));
    socket.connect(6379, "127.0.0.1", () => socket.write("PING\r\n"));
  });
}

/** Whether PostgreSQL answers a query at `POSTGRES_BENCH_URL` (default the test database on 127.0.0.1:5432) within a second. */
async function postgresAnswers(): Promise<boolean> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: POSTGRES_BENCH_URL, connectionTimeoutMillis: 1_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The Cloudflare Worker example's bundle size, once the example exists with a build script. */
function workerBundle(): { text: string; built: boolean } {
  const dir = WORKER_DIR;
  const pkg = join(dir, "package.json");
  const no = (text: string) => ({ text, built: false });
  if (!existsSync(pkg)) return no("not yet (examples/cloudflare-worker does not exist)");
  const scripts = (JSON.parse(readFileSync(pkg, "utf8")) as { scripts?: Record<string, string> }).scripts ?? {};
  if (!scripts.build) return no("not yet (examples/cloudflare-worker has no build script)");
  const build = spawnSync("npm", ["run", "build"], { cwd: dir, encoding: "utf8", timeout: 180_000 });
  if (build.status !== 0) return no(`build failed: ${(build.stderr || build.stdout).slice(-300)}`);
  const files = ["dist", "build", ".wrangler"].flatMap((d) => listJs(join(dir, d)));
  const largest = files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
  if (!largest) return no("built, but no .js bundle found under dist/");
  const bytes = readFileSync(largest);
  return {
    text: `${largest.slice(dir.length + 1)}: ${(bytes.length / 1024).toFixed(1)} KiB, ${(gzipSync(bytes).length / 1024).toFixed(1)} KiB gzipped`,
    built: true,
  };
}

function listJs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((f) => /\.m?js$/.test(f) && statSync(f).isFile());
}

/** The flags of the first CPU in /proc/cpuinfo (Linux), or none elsewhere. */
function cpuFlags(): string[] {
  try {
    return /^flags\s*:\s*(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.split(" ") ?? [];
  } catch {
    return [];
  }
}
