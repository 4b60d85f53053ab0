import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { StoredSession } from "../src/store.js";

export const BIN = fileURLToPath(new URL("../bin/portcullis.js", import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a user would. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return startCli(args, env).done;
}

/** Starts the CLI; `firstLine` is the first line it writes to stderr (the URL, with --no-open). */
export function startCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let gotLine: (line: string) => void;
  const firstLine = new Promise<string>((resolve) => (gotLine = resolve));
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => {
    stderr += d;
    if (stderr.includes("\n")) gotLine(stderr.slice(0, stderr.indexOf("\n")));
  });
  const done = new Promise<CliResult>((resolve) =>
    child.on("close", (code) => {
      gotLine(stderr);
      resolve({ code: code ?? -1, stdout, stderr });
    }),
  );
  return { child, firstLine, done };
}

/** A fresh `$PORTCULLIS_HOME`. */
export function tempHome(): string {
  return mkdtempSync(join(tmpdir(), "portcullis-home-"));
}

/** The one session file under a home, read and rewritten in place. */
export function sessionFile(home: string): { path: string; read(): StoredSession; write(session: StoredSession): void } {
  const dir = join(home, "sessions");
  const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  if (files.length !== 1) throw new Error(`expected one session file, found ${files.length}`);
  const path = join(dir, files[0]!);
  return {
    path,
    read: () => JSON.parse(readFileSync(path, "utf8")) as StoredSession,
    write: (session) => writeFileSync(path, JSON.stringify(session)),
  };
}
