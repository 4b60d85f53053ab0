/**
 * HTTP load generators: wrk (Debian's package) when it is installed, else autocannon. Both drive
 * one loopback URL with a fixed number of connections for a bounded time, and can rotate through
 * a file of tokens (one per line) so that each request carries a different one.
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";

/** What to send. `rotate` takes one line of `file` per request, in order, never reusing one. */
export interface RequestSpec {
  method: "GET" | "POST";
  path: string;
  headers?: Record<string, string>;
  body?: string;
  rotate?: { file: string; into: "bearer" | "refresh-form" };
}

/** One bounded run. */
export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses with a status other than 2xx/3xx (wrk counts >= 400). */
  non2xx: number;
  /** Connection, read, write and timeout errors. */
  socketErrors: number;
}

export interface LoadGenerator {
  name: "wrk" | "autocannon";
  /** Runs load for `seconds`; rotation continues where the previous call on the same spec stopped. */
  run(url: string, spec: RequestSpec, seconds: number, connections: number): Promise<LoadResult>;
  close(): Promise<void>;
}

export function hasWrk(): boolean {
  return spawnSync("wrk", ["--version"], { stdio: "ignore" }).error === undefined;
}

export async function createLoadGenerator(prefer: "wrk" | "autocannon" | undefined): Promise<LoadGenerator> {
  if (prefer === "wrk" || (prefer === undefined && hasWrk())) return createWrk();
  return createAutocannon();
}

/** Where each rotating spec has got to, so warm-up and runs never repeat a token. */
const offsets = new WeakMap<RequestSpec, number>();

async function createWrk(): Promise<LoadGenerator> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-wrk-"));
  let scripts = 0;
  const scriptFor = new WeakMap<RequestSpec, string>();
  return {
    name: "wrk",
    async run(url, spec, seconds, connections) {
      let script = scriptFor.get(spec);
      if (!script) {
        script = join(dir, `s${scripts++}.lua`);
        await writeFile(script, wrkScript(spec));
        scriptFor.set(spec, script);
      }
      const offset = offsets.get(spec) ?? 0;
      const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", "10s", "-s", script, url + spec.path, "--", String(offset)];
      const { stdout, stderr, code } = await capture("wrk", args, (seconds + 30) * 1000);
      const line = stdout.split("\n").find((l) => l.startsWith("BENCH_JSON "));
      if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}): ${stderr || stdout}`);
      const r = JSON.parse(line.slice("BENCH_JSON ".length)) as Record<string, number>;
      // Requests still in flight when wrk stops consumed a line too.
      if (spec.rotate) offsets.set(spec, offset + r.requests! + connections * 2);
      const secs = r.duration_us! / 1e6;
      return {
        requests: r.requests!,
        seconds: secs,
        rps: r.requests! / secs,
        p50Ms: r.p50_us! / 1000,
        p99Ms: r.p99_us! / 1000,
        non2xx: r.status!,
        socketErrors: r.connect! + r.read! + r.write! + r.timeout!,
      };
    },
    async close() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const lua = (s: string) => JSON.stringify(s); // a JSON string literal is a valid Lua string literal for ASCII

function wrkScript(spec: RequestSpec): string {
  const headers = { ...(spec.body ? { "Content-Type": "application/json" } : {}), ...spec.headers };
  const lines = [`wrk.method = ${lua(spec.method)}`];
  if (spec.body !== undefined) lines.push(`wrk.body = ${lua(spec.body)}`);
  for (const [name, value] of Object.entries(headers)) lines.push(`wrk.headers[${lua(name)}] = ${lua(value)}`);
  if (spec.rotate) {
    lines.push(
      `local items = {}`,
      `for line in io.lines(${lua(spec.rotate.file)}) do if #line > 0 then items[#items + 1] = line end end`,
      `local i = 0`,
      `function init(args) i = tonumber(args[1]) or 0 end`,
      `function request()`,
      `  i = i + 1`,
      `  local item = items[((i - 1) % #items) + 1]`,
      `  local h = {}`,
      `  for k, v in pairs(wrk.headers) do h[k] = v end`,
      spec.rotate.into === "bearer"
        ? `  h["Authorization"] = "Bearer " .. item\n  return wrk.format(nil, nil, h, wrk.body)`
        : `  h["Content-Type"] = "application/x-www-form-urlencoded"\n  return wrk.format(nil, nil, h, "grant_type=refresh_token&client_id=pub&refresh_token=" .. item)`,
      `end`,
    );
  }
  lines.push(
    `function done(summary, latency, requests)`,
    `  local e = summary.errors`,
    `  io.write(string.format('BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\\n',`,
    `    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status, e.connect, e.read, e.write, e.timeout))`,
    `end`,
  );
  return `${lines.join("\n")}\n`;
}

async function createAutocannon(): Promise<LoadGenerator> {
  const items = new Map<string, string[]>();
  return {
    name: "autocannon",
    async run(url, spec, seconds, connections) {
      const headers = { ...(spec.body ? { "content-type": "application/json" } : {}), ...spec.headers };
      const options: autocannon.Options = { url: url + spec.path, connections, duration: seconds, method: spec.method, headers, timeout: 10 };
      if (spec.body !== undefined) options.body = spec.body;
      const rotate = spec.rotate;
      if (rotate) {
        let list = items.get(rotate.file);
        if (!list) {
          list = readFileSync(rotate.file, "utf8").split("\n").filter(Boolean);
          items.set(rotate.file, list);
        }
        const lines = list;
        options.requests = [
          {
            setupRequest(request) {
              const i = offsets.get(spec) ?? 0;
              offsets.set(spec, i + 1);
              const item = lines[i % lines.length]!;
              if (rotate.into === "bearer") return { ...request, headers: { ...request.headers, authorization: `Bearer ${item}` } };
              return {
                ...request,
                headers: { ...request.headers, "content-type": "application/x-www-form-urlencoded" },
                body: `grant_type=refresh_token&client_id=pub&refresh_token=${item}`,
              };
            },
          },
        ];
      }
      const result = await autocannon(options);
      return {
        requests: result.requests.total,
        seconds: result.duration,
        rps: result.requests.total / result.duration,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        non2xx: result.non2xx,
        socketErrors: result.errors + result.timeouts,
      };
    },
    async close() {},
  };
}

function capture(command: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
  });
}

/** Marks `n` more lines of a rotating spec as used (the harness's own probe request). */
export function advanceRotation(spec: RequestSpec, n: number): void {
  offsets.set(spec, (offsets.get(spec) ?? 0) + n);
}
