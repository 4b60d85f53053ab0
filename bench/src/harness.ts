/**
 * Runs scenarios: each server in its own child process (started with tsx, reporting its port and
 * fixtures on stdout), driven over loopback by the load generator in another process; warm-up,
 * bounded runs, medians, and the server's RSS from /proc.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import type { LoadGenerator, LoadResult, RequestSpec } from "./load.js";
import { advanceRotation } from "./load.js";
import { CPU_PROFILE_ENV, parseReady, type ReadyInfo } from "./servers/common.js";

export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
const SERVERS_DIR = join(BENCH_DIR, "src", "servers");

export interface Settings {
  quick: boolean;
  warmupSeconds: number;
  runSeconds: number;
  runs: number;
  connections: number;
  /** Registrations made (through HTTP) before the RSS-after-registrations reading. */
  registrationFill: number;
}

/** A server, how to load it, and what it is compared with. */
export interface HttpScenario {
  kind: "http";
  id: string;
  label: string;
  group: string;
  script: "bare.ts" | "sdk.ts" | "floor.ts" | "portcullis.ts" | "worker.ts";
  config: Record<string, unknown>;
  nodeArgs?: string[];
  /** `--cpu-prof`: where the server writes a CPU profile of the measured load (started once it is ready). */
  profileDir?: string;
  request(info: ReadyInfo): RequestSpec;
  expectStatus: number;
  /** The scenario this one's ratio is taken against. */
  compare?: string;
  /**
   * Runs alternate with runs of the `compare` baseline (a server of its own, started alongside,
   * sent this scenario's own request), and the ratio is the median of the per-pair ratios: a host
   * whose speed drifts during the run moves both sides of each pair alike.
   */
  paired?: boolean;
  fillRegistrations?: boolean;
  readyTimeoutSeconds?: number;
  note?: string;
}

export interface OpsScenario {
  kind: "ops";
  id: "jose";
  label: string;
  group: string;
}

export type Scenario = HttpScenario | OpsScenario;

export interface ScenarioResult {
  id: string;
  label: string;
  group: string;
  unit: "req/s" | "ops/s";
  /** Median of the runs. */
  rps: number;
  p50Ms?: number;
  p99Ms?: number;
  rssMb?: number;
  peakRssMb?: number;
  expectStatus?: number;
  /** Responses whose status differed from the expected one, over warm-up and runs. */
  unexpected?: number;
  socketErrors?: number;
  runs: Array<Partial<LoadResult> & { rps: number }>;
  compare?: string;
  /** With {@link HttpScenario.paired}: the median of the per-pair ratios, and the baseline's median req/s in those pairs. */
  paired?: { ratio: number; baselineRps: number; ratios: number[]; baselineCpu?: CpuPerRequest };
  /**
   * The server process's CPU time (user + system) per answered request over the measured runs
   * (medians), in µs: every thread's (the signing pool's and the garbage collector's helpers too)
   * and the main thread's, which bounds throughput. It says where a request's cost lies;
   * the host's noise moves it too.
   */
  cpu?: CpuPerRequest;
  facts?: Record<string, string | number>;
  note?: string;
  error?: string;
}

interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  info: ReadyInfo;
  stderr: () => string;
  stop(): Promise<void>;
}

/** Starts a server script in its own Node process and waits for its READY line. */
export async function startServer(
  script: string,
  config: Record<string, unknown>,
  nodeArgs: string[] = [],
  timeoutSeconds = 120,
  profileDir?: string,
): Promise<ServerProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "production" };
  delete env[CPU_PROFILE_ENV];
  if (profileDir) env[CPU_PROFILE_ENV] = profileDir;
  // The packages as built to dist/ (what npm installs; run.ts builds them first), not their
  // sources through tsx, whose transform wraps every function expression in a naming call.
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", join(SERVERS_DIR, script), JSON.stringify(config)], {
    cwd: BENCH_DIR,
    env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const info = await new Promise<ReadyInfo>((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => reject(new Error(`${script} was not ready within ${timeoutSeconds} s\n${stderr}`)), timeoutSeconds * 1000);
    child.stdout.on("data", (d: Buffer) => {
      buffer += d.toString();
      for (let newline = buffer.indexOf("\n"); newline !== -1; newline = buffer.indexOf("\n")) {
        const ready = parseReady(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        if (ready) {
          clearTimeout(timer);
          resolve(ready);
        }
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      // After READY this rejects a settled promise: a no-op.
      reject(new Error(`${script} exited with ${code} before it was ready\n${stderr}`));
    });
  });
  return {
    child,
    info,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/**
 * A `/proc/.../stat` file's command name and the fields after it (the name may hold spaces, so it
 * is cut at its closing parenthesis): there utime and stime are the 12th and 13th, cutime and
 * cstime the 14th and 15th, in clock ticks (USER_HZ, 100 on Linux). Undefined when unreadable.
 */
function readStat(path: string): { command: string; fields: string[] } | undefined {
  let stat: string;
  try {
    stat = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const close = stat.lastIndexOf(")");
  return { command: stat.slice(stat.indexOf("(") + 1, close), fields: stat.slice(close + 2).split(" ") };
}

const ticksToMs = (ticks: number) => (ticks * 1000) / 100;

/**
 * CPU time a process has used, user + system, in ms: over all its threads, or with `thread` (a
 * thread id; the process id names the main thread) that thread's alone. Linux `/proc`; undefined
 * elsewhere.
 */
export function readCpuMs(pid: number, thread?: number): number | undefined {
  const fields = readStat(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`)?.fields;
  return fields && ticksToMs(Number(fields[11]) + Number(fields[12]));
}

/**
 * Server CPU per request answered as expected, µs: all threads, and the main (JavaScript) thread's
 * part; for a PostgreSQL or Redis row, also the database server's own (`service`), which shares
 * the machine's cores with the server and the load generator.
 */
export interface CpuPerRequest {
  total: number;
  main: number;
  service?: number;
}

/** The database servers whose CPU a row also reports, by the store it runs on: the command name of their processes. */
const SERVICE_COMMANDS: Record<string, string> = { postgres: "postgres", redis: "redis-server" };

/**
 * CPU time the processes named `command` have used, in ms: every live one's, plus what their
 * root process has reaped from children that exited (PostgreSQL's backends for connections
 * already closed). Linux `/proc`; undefined elsewhere or when none runs. Counts the whole service,
 * whatever else uses it at the time.
 */
export function readServiceCpuMs(command: string): number | undefined {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const processes = new Map<string, string[]>();
  for (const pid of pids) {
    const stat = readStat(`/proc/${pid}/stat`); // undefined: exited meanwhile
    if (stat?.command === command) processes.set(pid, stat.fields);
  }
  if (processes.size === 0) return undefined;
  let ticks = 0;
  for (const fields of processes.values()) {
    ticks += Number(fields[11]) + Number(fields[12]);
    // The root (its parent is not of the service) also counts the children it reaped.
    if (!processes.has(fields[1]!)) ticks += Number(fields[13]) + Number(fields[14]);
  }
  return ticksToMs(ticks);
}

/** Counts a run's responses with the expected kind of status (2xx, or an error for an expected refusal). */
const answeredAsExpected = (expectStatus: number) => (r: LoadResult) => (expectStatus < 400 ? r.requests - r.non2xx : r.non2xx);

/**
 * Runs `load` and measures the CPU the process `pid` spent meanwhile, and the database service's
 * (by its command name) when given (see {@link CpuPerRequest}).
 */
async function measured(
  pid: number,
  load: () => Promise<LoadResult>,
  ok: (r: LoadResult) => number,
  service?: string,
): Promise<{ result: LoadResult; cpu?: CpuPerRequest }> {
  const serviceBefore = service ? readServiceCpuMs(service) : undefined;
  const before = [readCpuMs(pid), readCpuMs(pid, pid)];
  const result = await load();
  const after = [readCpuMs(pid), readCpuMs(pid, pid)];
  const serviceAfter = service ? readServiceCpuMs(service) : undefined;
  const answered = ok(result);
  if (answered === 0 || [...before, ...after].some((ms) => ms === undefined)) return { result };
  const perRequest = (i: number) => ((after[i]! - before[i]!) * 1000) / answered;
  const cpu: CpuPerRequest = { total: perRequest(0), main: perRequest(1) };
  if (serviceBefore !== undefined && serviceAfter !== undefined) cpu.service = ((serviceAfter - serviceBefore) * 1000) / answered;
  return { result, cpu };
}

/** VmRSS and VmHWM of a process, in MB. */
export function readRss(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(/^(\w+):\s+(\d+) kB$/m.exec(status.split("\n").find((l) => l.startsWith(`${name}:`)) ?? "")?.[2] ?? NaN);
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
}

const medianCpu = (runs: CpuPerRequest[]): CpuPerRequest => {
  const cpu: CpuPerRequest = { total: median(runs.map((c) => c.total)), main: median(runs.map((c) => c.main)) };
  const service = runs.map((c) => c.service).filter((us): us is number => us !== undefined);
  if (service.length === runs.length) cpu.service = median(service);
  return cpu;
};

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Sends one request as the load generator would, and checks the server answers as expected. */
async function probe(url: string, spec: RequestSpec, expectStatus: number): Promise<void> {
  const headers: Record<string, string> = { ...(spec.body ? { "Content-Type": "application/json" } : {}), ...spec.headers };
  let body = spec.body;
  if (spec.rotate) {
    const first = readFileSync(spec.rotate.file, "utf8").split("\n", 1)[0]!;
    advanceRotation(spec, 1);
    if (spec.rotate.into === "bearer") headers.Authorization = `Bearer ${first}`;
    else {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = `grant_type=refresh_token&client_id=pub&refresh_token=${first}`;
    }
  }
  const response = await fetch(url + spec.path, { method: spec.method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  if (response.status !== expectStatus)
    throw new Error(`probe of ${spec.method} ${spec.path} answered ${response.status} (expected ${expectStatus}): ${text.slice(0, 300)}`);
}

export async function runHttpScenario(
  s: HttpScenario,
  load: LoadGenerator,
  settings: Settings,
  log: (line: string) => void,
  baseline?: HttpScenario,
): Promise<ScenarioResult> {
  let server: ServerProcess;
  let pair: { server: ServerProcess; url: string; spec: RequestSpec } | undefined;
  try {
    server = await startServer(s.script, s.config, s.nodeArgs, s.readyTimeoutSeconds, s.profileDir);
  } catch (error) {
    return { id: s.id, label: s.label, group: s.group, unit: "req/s", rps: 0, runs: [], error: error instanceof Error ? error.message : String(error) };
  }
  const url = `http://127.0.0.1:${server.info.port}`;
  const result: ScenarioResult = {
    id: s.id,
    label: s.label,
    group: s.group,
    unit: "req/s",
    rps: 0,
    expectStatus: s.expectStatus,
    runs: [],
    ...(s.compare ? { compare: s.compare } : {}),
    ...(s.note ? { note: s.note } : {}),
    ...(server.info.facts && Object.keys(server.info.facts).length > 0 ? { facts: { ...server.info.facts } } : {}),
  };
  try {
    const spec = s.request(server.info);
    await probe(url, spec, s.expectStatus);
    if (baseline) {
      // A refresh baseline serves this server's own refresh tokens, so both take the same requests.
      const tokens = spec.rotate?.into === "refresh-form" ? { refreshTokenFile: spec.rotate.file } : {};
      const other = await startServer(baseline.script, { ...baseline.config, ...tokens }, baseline.nodeArgs, baseline.readyTimeoutSeconds);
      // The baseline gets the very request the guarded side gets (its Authorization header too,
      // which it ignores), so the ratio is the guard's cost, not that of parsing a longer request.
      pair = { server: other, url: `http://127.0.0.1:${other.info.port}`, spec };
      await probe(pair.url, pair.spec, baseline.expectStatus);
      await load.run(pair.url, pair.spec, settings.warmupSeconds, settings.connections);
    }
    const ok = answeredAsExpected(s.expectStatus);
    const warm = await load.run(url, spec, settings.warmupSeconds, settings.connections);
    let unexpected = warm.requests - ok(warm);
    let registered = 1 + ok(warm);
    const runs: LoadResult[] = [];
    const baselineRuns: LoadResult[] = [];
    const cpu: CpuPerRequest[] = [];
    const baselineCpu: CpuPerRequest[] = [];
    const rssPid = server.info.rssPid ?? server.child.pid!;
    for (let i = 0; i < settings.runs; i++) {
      if (pair) {
        const b = await measured(
          pair.server.info.rssPid ?? pair.server.child.pid!,
          () => load.run(pair!.url, pair!.spec, settings.runSeconds, settings.connections),
          answeredAsExpected(baseline!.expectStatus),
        );
        baselineRuns.push(b.result);
        if (b.cpu) baselineCpu.push(b.cpu);
        log(`    ${baseline!.id} run ${i + 1}: ${Math.round(b.result.rps)} req/s`);
      }
      const m = await measured(rssPid, () => load.run(url, spec, settings.runSeconds, settings.connections), ok, SERVICE_COMMANDS[String(s.config.store)]);
      const r = m.result;
      runs.push(r);
      if (m.cpu) cpu.push(m.cpu);
      unexpected += r.requests - ok(r);
      registered += ok(r);
      log(
        `    run ${i + 1}: ${Math.round(r.rps)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms${r.requests - ok(r) ? `, ${r.requests - ok(r)} unexpected` : ""}`,
      );
    }
    const rss = readRss(rssPid);
    Object.assign(result, {
      rps: median(runs.map((r) => r.rps)),
      p50Ms: median(runs.map((r) => r.p50Ms)),
      p99Ms: median(runs.map((r) => r.p99Ms)),
      rssMb: rss.rssMb,
      peakRssMb: rss.peakMb,
      unexpected,
      socketErrors: runs.reduce((n, r) => n + r.socketErrors, warm.socketErrors),
      runs,
      ...(cpu.length === runs.length ? { cpu: medianCpu(cpu) } : {}),
    });
    if (pair && baselineRuns.length === runs.length) {
      const ratios = runs.map((r, i) => r.rps / baselineRuns[i]!.rps);
      result.paired = {
        ratio: median(ratios),
        baselineRps: median(baselineRuns.map((b) => b.rps)),
        ratios,
        ...(baselineCpu.length === runs.length ? { baselineCpu: medianCpu(baselineCpu) } : {}),
      };
    }
    if (s.fillRegistrations) {
      const fill = await fillRegistrations(url, spec, registered, settings.registrationFill, settings.connections);
      const after = readRss(rssPid);
      result.facts = {
        ...result.facts,
        registrations: fill.total,
        rssAfterRegistrationsMb: round1(after.rssMb),
        fillRegistrationsPerSecond: Math.round(fill.rate),
        filledRegistrations: fill.total - registered,
        ...(fill.failed ? { fillFailed: fill.failed } : {}),
      };
    }
  } catch (error) {
    result.error = `${error instanceof Error ? error.message : String(error)}\n${server.stderr().slice(-2000)}`.trim();
  } finally {
    await server.stop();
    await pair?.server.stop();
  }
  return result;
}

/** Registers clients over HTTP until `target` exist (bounded: 120 s at most). */
async function fillRegistrations(url: string, spec: RequestSpec, done: number, target: number, connections: number) {
  let total = done;
  let failed = 0;
  const started = performance.now();
  while (total < target && performance.now() - started < 120_000) {
    const amount = Math.min(target - total, 10_000);
    const r = await autocannon({
      url: url + spec.path,
      method: spec.method,
      headers: { "content-type": "application/json" },
      body: spec.body!,
      amount,
      connections,
      timeout: 10,
    });
    total += r["2xx"];
    failed += r.non2xx + r.errors;
    if (r["2xx"] === 0) break;
  }
  return { total, failed, rate: (total - done) / ((performance.now() - started) / 1000) };
}

/** Raw jose ES256 verify and sign ops/s, in its own process. */
export async function runOpsScenario(s: OpsScenario, settings: Settings): Promise<ScenarioResult[]> {
  const config = { durationMs: settings.runSeconds * 1000, runs: settings.runs, warmupMs: settings.warmupSeconds * 1000 };
  const child = spawn(process.execPath, ["--import", "tsx", join(SERVERS_DIR, "jose-ops.ts"), JSON.stringify(config)], {
    cwd: BENCH_DIR,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  child.stderr.on("data", (d: Buffer) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  const runs = out
    .split("\n")
    .filter((l) => l.startsWith("BENCH_OPS "))
    .map((l) => JSON.parse(l.slice("BENCH_OPS ".length)) as { verify: number; sign: number });
  const error = code !== 0 || runs.length === 0 ? `jose-ops exited with ${code}: ${err.slice(-2000)}` : undefined;
  const make = (op: "verify" | "sign"): ScenarioResult => ({
    id: `jose-${op}`,
    label: `jose ES256 ${op} (in-process, one at a time)`,
    group: s.group,
    unit: "ops/s",
    rps: runs.length ? median(runs.map((r) => r[op])) : 0,
    runs: runs.map((r) => ({ rps: r[op] })),
    ...(error ? { error } : {}),
  });
  return [make("verify"), make("sign")];
}

export const round1 = (n: number) => Math.round(n * 10) / 10;
