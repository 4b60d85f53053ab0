import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { DemoConfig } from "./demo.js";

/**
 * Where a generated key named `name` is kept: beside the SQLite database (`<file>.<name>`), never
 * inside the store; for Redis or PostgreSQL, `.data/<name>` in the working directory (instances on
 * other hosts must share it: set the key's variable there); for a memory store nowhere (nothing
 * outlives the process anyway).
 */
export function keptKeyFile(store: string, name: string): string | undefined {
  if (store.startsWith("sqlite:")) return `${resolve(store.slice("sqlite:".length))}.${name}`;
  if (/^(rediss?|postgres(ql)?):\/\//.test(store)) return resolve(`.data/${name}`);
  return undefined;
}

/**
 * Reads the key kept in `file`, or generates one (32 random bytes, base64url) and keeps it there
 * (mode 0600, created exclusively: of instances starting together on one store, one key wins).
 * Without a file, a key for this process only.
 */
export function keptKey(file: string | undefined): string {
  const kept = file && existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
  if (kept) return kept;
  const key = randomBytes(32).toString("base64url");
  if (!file) return key;
  mkdirSync(dirname(file), { recursive: true });
  try {
    writeFileSync(file, `${key}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(file, 0o600);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return readFileSync(file, "utf8").trim();
  }
}

/** Where a generated upstream token key is kept (see {@link keptKeyFile}). */
export function upstreamKeyFile(store: string): string | undefined {
  return keptKeyFile(store, "upstream-token-key");
}

/** What a generated key's file is called in the banner when there is none. */
const PROCESS_ONLY = "memory (this process only)";

/**
 * With `UPSTREAM_ISSUER` set and `UPSTREAM_TOKEN_KEY` unset: reads the key kept beside the store,
 * or generates one and keeps it there, so existing grants' upstream tokens still open after a
 * restart.
 */
export function withUpstreamTokenKey(config: DemoConfig): DemoConfig {
  const upstream = config.upstream;
  if (!upstream || upstream.tokenKey) return config;
  const file = upstreamKeyFile(config.store);
  return { ...config, upstream: { ...upstream, tokenKey: keptKey(file), generatedKeyFile: file ?? PROCESS_ONLY } };
}

/**
 * With `SIGNING_KEY_ENCRYPTION_KEY` unset: reads the key kept beside the store
 * (`<file>.signing-key-encryption-key`), or generates one and keeps it there, so the signing keys
 * it encrypts in the store still open after a restart.
 */
export function withSigningKeyEncryptionKey(config: DemoConfig): DemoConfig {
  if (config.resourceServer || config.keyEncryptionKey) return config;
  const file = keptKeyFile(config.store, "signing-key-encryption-key");
  return { ...config, keyEncryptionKey: keptKey(file), generatedKeyEncryptionKeyFile: file ?? PROCESS_ONLY };
}
