import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";

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
}

const READY_PREFIX = "BENCH_READY ";

/** The line a server script prints on stdout when ready; the harness waits for it. */
export function reportReady(info: ReadyInfo): void {
  process.stdout.write(`${READY_PREFIX}${JSON.stringify(info)}\n`);
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
  cleanups.push(fn);
}

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
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
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
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
  await writeFile(path, items.join("\n") + "\n");
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
