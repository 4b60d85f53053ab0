import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { DemoConfig } from "./demo.js";

/**
 * Where a generated upstream token key is kept: beside the SQLite database
 * (`<file>.upstream-token-key`), never inside the store; for Redis, `.data/upstream-token-key`
 * in the working directory (instances on other hosts must share it: set `UPSTREAM_TOKEN_KEY`
 * there); for a memory store nowhere (nothing outlives the process anyway).
 */
export function upstreamKeyFile(store: string): string | undefined {
  if (store.startsWith("sqlite:")) return `${resolve(store.slice("sqlite:".length))}.upstream-token-key`;
  if (store.startsWith("redis://") || store.startsWith("rediss://")) return resolve(".data/upstream-token-key");
  return undefined;
}

/**
 * With `UPSTREAM_ISSUER` set and `UPSTREAM_TOKEN_KEY` unset: reads the key kept beside the store,
 * or generates one (32 random bytes) and keeps it there (mode 0600), so existing grants' upstream
 * tokens still open after a restart.
 */
export function withUpstreamTokenKey(config: DemoConfig): DemoConfig {
  const upstream = config.upstream;
  if (!upstream || upstream.tokenKey) return config;
  const file = upstreamKeyFile(config.store);
  let key = file && existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
  if (!key) {
    key = randomBytes(32).toString("base64url");
    if (file) {
      mkdirSync(dirname(file), { recursive: true });
      try {
        // Created exclusively: of instances starting together on one store, one key wins.
        writeFileSync(file, `${key}\n`, { mode: 0o600, flag: "wx" });
        chmodSync(file, 0o600);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        key = readFileSync(file, "utf8").trim();
      }
    }
  }
  return { ...config, upstream: { ...upstream, tokenKey: key, generatedKeyFile: file ?? "memory (this process only)" } };
}
