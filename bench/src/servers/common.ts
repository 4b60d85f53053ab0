import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type RequestListener, type Server } from "node:http";
import { Session } from "node:inspector";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

/** What a server script reports once it is ready for load: its port and its fixtures. */
export interface ReadyInfo {
  port: number;
  /** One valid access token, reused across requests. */
  token?: string;
  /** The same token with a broken signature. */
  badToken?: string;
  /** Files of one item per line that the load generator rotates through. */
  files?: { accessTokens?: string; refreshTokens?: string };
  /** Free-form facts about the setup (counts, timings) for the report. */
  facts?: Record<string, string | number>;
  /** The process whose RSS the report shows, when it is not the script's own (workerd under Miniflare). */
  rssPid?: number;
}

/**
 * Set by the harness for `--cpu-prof`: the directory each server writes one V8 CPU profile to.
 * The profile starts when the server reports ready and stops when the harness stops it, so it
 * holds the measured load only (no module loading, no fixture preloading).
 */
export const CPU_PROFILE_ENV = "BENCH_CPU_PROFILE_DIR";

const READY_PREFIX = "BENCH_READY ";

/**
 * Prints the line the harness waits for on stdout; under `--cpu-prof`, first starts the CPU
 * profile that the stop handler writes.
 */
export async function reportReady(info: ReadyInfo): Promise<void> {
  const dir = process.env[CPU_PROFILE_ENV];
  if (dir) await startCpuProfile(dir);
  process.stdout.write(`${READY_PREFIX}${JSON.stringify(info)}\n`);
}

/** Stops the CPU profile and writes it, synchronously; set while one is running. */
let flushProfile: (() => void) | undefined;

/**
 * Starts V8's sampling profiler in this process. The profile is written, synchronously, first
 * thing on stop (SIGTERM/SIGINT, before other cleanups and before any other library's signal
 * handler, such as Miniflare's, can exit the process) or at exit, whichever comes first.
 */
async function startCpuProfile(dir: string): Promise<void> {
  installStopHandlers();
  const session = new Session();
  session.connect();
  const post = <T = unknown>(method: string, params?: object) =>
    new Promise<T>((resolve, reject) => session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result as T))));
  await post("Profiler.enable");
  // node --cpu-prof's default interval, so profiles compare with earlier ones.
  await post("Profiler.setSamplingInterval", { interval: 1000 });
  await post("Profiler.start");
  flushProfile = () => {
    flushProfile = undefined;
    // A session on the main thread answers synchronously: the callback runs before post returns.
    session.post("Profiler.stop", (error, result) => {
      if (error) return void console.error("[bench] CPU profile lost:", error.message);
      mkdirSync(dir, { recursive: true });
      const stamp = new Date().toISOString().replace(/\..*/, "").replaceAll(/[-:]/g, "").replace("T", ".");
      writeFileSync(join(dir, `CPU.${stamp}.${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
    session.disconnect();
  };
  process.once("exit", () => flushProfile?.());
}

/** Parses a READY line, or answers undefined for any other output. */
export function parseReady(line: string): ReadyInfo | undefined {
  return line.startsWith(READY_PREFIX) ? (JSON.parse(line.slice(READY_PREFIX.length)) as ReadyInfo) : undefined;
}

/**
 * Listens on a free loopback port before the app exists, so the app can be built for its real
 * origin; `attach` then installs the listener. Requests arriving before it get a 503.
 */
export async function listenLoopback(): Promise<{ server: Server; port: number; origin: string; attach(listener: RequestListener): void }> {
  installStopHandlers();
  let current: RequestListener | undefined;
  const server = createServer((req, res) => {
    if (current) return void current(req, res);
    res.writeHead(503).end();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    origin: `http://127.0.0.1:${port}`,
    attach(listener) {
      current = listener;
    },
  };
}

const cleanups: Array<() => unknown> = [];
let stopping = false;

/** Runs `fn` when the harness stops the server (SIGTERM/SIGINT), before the process exits. */
export function onStop(fn: () => unknown): void {
  installStopHandlers();
  cleanups.push(fn);
}

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  // The profile ends with the load, before cleanups (closing stores) add their own work.
  flushProfile?.();
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (error) {
      console.error("[bench] cleanup failed:", error instanceof Error ? error.message : error);
    }
  }
  process.exit(0);
}
let installed = false;
function installStopHandlers(): void {
  if (installed) return;
  installed = true;
  // Prepended: ahead of handlers that exit at once (Miniflare's kills workerd and exits).
  process.prependListener("SIGTERM", () => void stop());
  process.prependListener("SIGINT", () => void stop());
  // The harness holds our stdin: when it dies without signalling, its end of the pipe closes.
  process.stdin.on("end", () => void stop());
  process.stdin.resume();
}

/** Reads a JSON config from argv[2]. */
export function argConfig<T>(): T {
  const raw = process.argv[2];
  if (!raw) throw new Error("expected a JSON config as the first argument");
  return JSON.parse(raw) as T;
}

/**
 * The refresh tokens a baseline serves: those of `file` when the harness pairs it with a server
 * whose tokens it must accept (the harness passes that server's token file), else `count` new ones.
 */
export function refreshTokensFor(file: string | undefined, count: number, make: () => string): string[] {
  if (file) return readFileSync(file, "utf8").split("\n").filter(Boolean);
  return Array.from({ length: count }, make);
}

/** Fails loudly: the harness sees the exit and the message on stderr. */
export function fail(message: string): never {
  console.error(`[bench] ${message}`);
  process.exit(1);
}

/** Writes one item per line to a temporary file (removed when the server stops); answers its path. */
export async function writeLines(name: string, items: string[]): Promise<string> {
  const { writeFile, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const path = join(tmpdir(), `portcullis-bench-${process.pid}-${name}.txt`);
  await writeFile(path, `${items.join("\n")}\n`);
  onStop(() => rm(path, { force: true }));
  return path;
}

/** The body every scenario registers a client with (RFC 7591), for Portcullis and the SDK alike. */
export const REGISTRATION_BODY = JSON.stringify({
  redirect_uris: ["http://127.0.0.1:33418/callback"],
  token_endpoint_auth_method: "none",
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
  client_name: "bench client",
});

/** The PostgreSQL database the postgres scenarios use (each server in a schema of its own, dropped when it stops). */
export const POSTGRES_BENCH_URL = process.env.POSTGRES_BENCH_URL ?? "postgres://postgres@127.0.0.1:5432/test";
