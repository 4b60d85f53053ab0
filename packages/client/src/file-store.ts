import type * as FS from "node:fs";
import type * as Crypto from "node:crypto";
import type * as OS from "node:os";
import type * as Path from "node:path";
import { PortcullisClientError } from "./errors.js";
import { STORE_FORMAT_VERSION, sessionKey, type StoredClient, type StoredSession, type TokenStore } from "./store.js";

/** Options of {@link createFileStore}. */
export interface FileStoreOptions {
  /** The directory; defaults to `$PORTCULLIS_HOME`, else `~/.config/portcullis`. */
  home?: string;
  /** How long a lock may be held before another process takes it over; default 30 s. */
  staleLockMs?: number;
  /** How long to wait for a lock; default 60 s. */
  lockTimeoutMs?: number;
}

interface NodeModules {
  fs: typeof FS;
  crypto: typeof Crypto;
  os: typeof OS;
  path: typeof Path;
}

function nodeModules(): NodeModules {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (!get) throw new TypeError("createFileStore needs Node.js 20.16 or later; use createMemoryStore or a custom TokenStore elsewhere");
  return {
    fs: get("node:fs") as typeof FS,
    crypto: get("node:crypto") as typeof Crypto,
    os: get("node:os") as typeof OS,
    path: get("node:path") as typeof Path,
  };
}

/** The default directory: `$PORTCULLIS_HOME`, else `~/.config/portcullis`. */
export function defaultHome(): string {
  const { os, path } = nodeModules();
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
  return env.PORTCULLIS_HOME || path.join(os.homedir(), ".config", "portcullis");
}

/**
 * A store of JSON files, each readable by the owner only (0600, in 0700 directories):
 * `sessions/<sha256(MCP URL)>.json` and `clients/<sha256(issuer)>.json`, each carrying
 * `"version": 1` and its key in clear. Writes go to a temporary file renamed into place, so a
 * reader never sees half a record. `lock` is a lock file created with `O_EXCL`, taken over when
 * its holder has died or held it past `staleLockMs`: every process sharing the directory
 * refreshes under it.
 */
export function createFileStore(options: FileStoreOptions = {}): TokenStore {
  const { fs, crypto, path } = nodeModules();
  const home = options.home ?? defaultHome();
  const staleLockMs = options.staleLockMs ?? 30_000;
  const lockTimeoutMs = options.lockTimeoutMs ?? 60_000;
  const hash = (value: string) => crypto.createHash("sha256").update(value).digest("hex");
  const dir = (name: string) => {
    const full = path.join(home, name);
    fs.mkdirSync(full, { recursive: true, mode: 0o700 });
    return full;
  };
  const fileOf = (kind: "sessions" | "clients", key: string) => path.join(dir(kind), `${hash(key)}.json`);

  function read<T extends { version: number }>(file: string): T | undefined {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    let record: T;
    try {
      record = JSON.parse(text) as T;
    } catch {
      throw new PortcullisClientError("store_corrupt", `${file} is not valid JSON: delete it and sign in again`);
    }
    if (typeof record.version !== "number" || record.version > STORE_FORMAT_VERSION) {
      throw new PortcullisClientError("store_version", `${file} was written by a newer version (format ${record.version})`);
    }
    return record;
  }

  function write(file: string, record: unknown): void {
    const temp = `${file}.${process.pid}.${crypto.randomBytes(6).toString("hex")}.tmp`;
    fs.writeFileSync(temp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    fs.renameSync(temp, file);
  }

  function remove(file: string): void {
    fs.rmSync(file, { force: true });
  }

  const held = new Map<string, Promise<unknown>>();

  /** Takes the lock file, waiting for a live holder; takes over a dead or stale one. Answers its content. */
  async function acquire(file: string): Promise<string> {
    const deadline = Date.now() + lockTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const mine = JSON.stringify({ pid: process.pid, at: Date.now(), nonce: crypto.randomBytes(8).toString("hex") });
      try {
        fs.writeFileSync(file, mine, { flag: "wx", mode: 0o600 });
        return mine;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      if (isStale(file)) {
        // Rename first: of several processes seeing the same stale lock, one wins the rename.
        const claimed = `${file}.${process.pid}.stale`;
        try {
          fs.renameSync(file, claimed);
          fs.rmSync(claimed, { force: true });
        } catch {
          /* another process took it over first */
        }
        continue;
      }
      if (Date.now() > deadline) throw new PortcullisClientError("lock_timeout", `timed out waiting for ${file}`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(25 * 2 ** Math.min(attempt, 4), 250) + Math.random() * 25));
    }
  }

  function isStale(file: string): boolean {
    let holder: { pid?: number; at?: number };
    try {
      holder = JSON.parse(fs.readFileSync(file, "utf8")) as { pid?: number; at?: number };
    } catch {
      // Being written this instant, or gone: judge by its age.
      try {
        return Date.now() - fs.statSync(file).mtimeMs > staleLockMs;
      } catch {
        return false;
      }
    }
    if (typeof holder.at === "number" && Date.now() - holder.at > staleLockMs) return true;
    if (typeof holder.pid === "number" && holder.pid !== process.pid) {
      try {
        process.kill(holder.pid, 0);
      } catch (error) {
        return (error as NodeJS.ErrnoException).code === "ESRCH";
      }
    }
    return false;
  }

  return {
    async getSession(mcpUrl) {
      return read<StoredSession>(fileOf("sessions", sessionKey(mcpUrl)));
    },
    async saveSession(session) {
      write(fileOf("sessions", sessionKey(session.mcp_url)), { ...session, version: STORE_FORMAT_VERSION });
    },
    async deleteSession(mcpUrl) {
      remove(fileOf("sessions", sessionKey(mcpUrl)));
    },
    async getClient(issuer) {
      return read<StoredClient>(fileOf("clients", issuer));
    },
    async saveClient(client) {
      write(fileOf("clients", client.issuer), { ...client, version: STORE_FORMAT_VERSION });
    },
    async deleteClient(issuer) {
      remove(fileOf("clients", issuer));
    },
    async lock(key, fn) {
      // In-process callers queue on a promise; processes queue on the lock file.
      const previous = held.get(key) ?? Promise.resolve();
      const run = previous
        .catch(() => undefined)
        .then(async () => {
          const file = path.join(dir("locks"), `${hash(key)}.lock`);
          const mine = await acquire(file);
          try {
            return await fn();
          } finally {
            // Release only our own lock: one taken over as stale now belongs to someone else.
            let current: string | undefined;
            try {
              current = fs.readFileSync(file, "utf8");
            } catch {
              current = undefined;
            }
            if (current === mine) remove(file);
          }
        });
      held.set(key, run);
      try {
        return await run;
      } finally {
        if (held.get(key) === run) held.delete(key);
      }
    },
  };
}
