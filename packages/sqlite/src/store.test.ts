import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { Storage } from "@portcullis/core";
import { runStorageContract } from "@portcullis/core/testing";
import { createSqliteStore } from "./index.js";
import { open } from "./store.js";

const dir = mkdtempSync(join(tmpdir(), "portcullis-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const freshPath = () => join(dir, `store-${++files}.db`);
const paths = new WeakMap<Storage, string>();

runStorageContract("sqlite", {
  usesClock: true,
  async open(clock) {
    const path = freshPath();
    const store = createSqliteStore({ path, now: clock.now });
    paths.set(store, path);
    return store;
  },
  async reopen(store, clock) {
    const path = paths.get(store)!;
    await store.close?.();
    return createSqliteStore({ path, now: clock.now });
  },
});

const rowCount = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM entries").get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe("SQLite store: several connections on one file", () => {
  it("lets exactly one of two connections consume a key", async () => {
    const path = freshPath();
    const a = createSqliteStore({ path });
    const b = createSqliteStore({ path });
    try {
      for (let round = 0; round < 20; round++) {
        await a.set(`code-${round}`, { round });
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).consume(`code-${round}`)));
        expect(results.filter((r) => r !== undefined)).toEqual([{ round }]);
        expect(await a.get(`code-${round}`)).toBeUndefined();
        expect(await b.get(`code-${round}`)).toBeUndefined();
      }
    } finally {
      await a.close?.();
      await b.close?.();
    }
  });

  it("gives every key to exactly one of four processes racing to consume them", async () => {
    const path = freshPath();
    const keys = 1000;
    const store = createSqliteStore({ path });
    for (let i = 0; i < keys; i++) await store.set(`race:${i}`, i);
    await store.close?.();

    const child = fileURLToPath(new URL("../test/consume-race-child.ts", import.meta.url));
    const runs = Array.from({ length: 4 }, () => {
      const proc = spawn(process.execPath, ["--import", "tsx", child, path, String(keys)], {
        stdio: ["pipe", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      proc.stderr.on("data", (chunk) => (err += chunk));
      const ready = new Promise<void>((resolve) => {
        proc.stdout.on("data", (chunk) => {
          out += chunk;
          if (out.startsWith("ready\n")) resolve();
        });
      });
      const done = new Promise<number[]>((resolve, reject) => {
        proc.on("exit", (code) => {
          if (code !== 0) reject(new Error(`child exited ${code}: ${err}`));
          else resolve(JSON.parse(out.slice("ready\n".length)) as number[]);
        });
      });
      return { proc, ready, done };
    });
    await Promise.all(runs.map((run) => run.ready));
    for (const run of runs) run.proc.stdin.end("go\n");
    const won = await Promise.all(runs.map((run) => run.done));

    const all = won.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: keys }, (_, i) => i));
  }, 60_000);
});

describe("SQLite store: expiry", () => {
  it("sweeps expired rows from the file on its timer and keeps live ones", async () => {
    let t = 1_000_000;
    const path = freshPath();
    const store = createSqliteStore({ path, now: () => t, sweepIntervalSeconds: 0.02 });
    try {
      await store.set("short", 1, { ttlSeconds: 10 });
      await store.set("long", 2, { ttlSeconds: 100 });
      await store.set("forever", 3);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(rowCount(path)).toBe(3);
      t += 10_000;
      await vi.waitFor(() => expect(rowCount(path)).toBe(2), { timeout: 5_000, interval: 20 });
      expect(await store.get("long")).toBe(2);
      expect(await store.get("forever")).toBe(3);
    } finally {
      await store.close?.();
    }
  });

  it("keeps a counter's first expiry across increments, then starts a new window", async () => {
    let t = 0;
    const store = createSqliteStore({ path: freshPath(), now: () => t });
    try {
      expect(await store.increment("rate", { ttlSeconds: 10 })).toBe(1);
      t = 9_999;
      expect(await store.increment("rate", { ttlSeconds: 10 })).toBe(2);
      t = 10_000;
      expect(await store.get("rate")).toBeUndefined();
      expect(await store.increment("rate", { ttlSeconds: 10 })).toBe(1);
      t = 19_999;
      expect(await store.increment("rate", { ttlSeconds: 10 })).toBe(2);
      await store.set("plain", 5);
      expect(await store.increment("plain", { ttlSeconds: 1 })).toBe(6);
      t = 1_000_000;
      expect(await store.get("plain")).toBe(6);
    } finally {
      await store.close?.();
    }
  });

  it("lets setIfAbsent replace an expired row but not a live one", async () => {
    let t = 0;
    const store = createSqliteStore({ path: freshPath(), now: () => t });
    try {
      expect(await store.setIfAbsent("jti", "first", { ttlSeconds: 5 })).toBe(true);
      t = 4_999;
      expect(await store.setIfAbsent("jti", "second")).toBe(false);
      t = 5_000;
      expect(await store.setIfAbsent("jti", "third")).toBe(true);
      t = 1e12;
      expect(await store.get("jti")).toBe("third");
    } finally {
      await store.close?.();
    }
  });
});

describe("SQLite store: key ranges", () => {
  it("lists prefixes ending in the highest code point, and everything for an empty prefix", async () => {
    const store = createSqliteStore({ path: freshPath() });
    try {
      const top = String.fromCodePoint(0x10ffff);
      for (const key of ["a", `a${top}`, `a${top}${top}x`, `a${top}z`, "b", "\uffff", "\u{1F511}"]) {
        await store.set(key, key);
      }
      expect((await store.list(`a${top}`)).map((e) => e.key)).toEqual([`a${top}`, `a${top}z`, `a${top}${top}x`]);
      expect((await store.list(top)).map((e) => e.key)).toEqual([]);
      // Code point order: U+FFFF sorts before U+1F511 (UTF-16 order would say the opposite).
      expect((await store.list("")).map((e) => e.key)).toEqual(["a", `a${top}`, `a${top}z`, `a${top}${top}x`, "b", "\uffff", "\u{1F511}"]);
    } finally {
      await store.close?.();
    }
  });
});

describe("SQLite store: opening", () => {
  it("creates missing parent directories", async () => {
    const path = join(dir, "nested", "deeper", "store.db");
    const store = createSqliteStore({ path });
    await store.set("k", 1);
    await store.close?.();
    const again = createSqliteStore({ path });
    expect(await again.get("k")).toBe(1);
    await again.close?.();
  });

  it("refuses a corrupt file with a clear error at open", () => {
    const path = freshPath();
    writeFileSync(path, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 256)));
    expect(() => createSqliteStore({ path })).toThrow(/cannot open ".*store-\d+\.db" as a Portcullis store: file is not a database/);
  });

  it("refuses a file whose schema is newer than it understands", () => {
    const path = freshPath();
    const db = new Database(path);
    db.pragma("user_version = 99");
    db.close();
    expect(() => createSqliteStore({ path })).toThrow(/schema version 99 is newer/);
  });

  it("keeps statement and savepoint journals in memory, not in a temporary file", () => {
    const db = open(freshPath());
    try {
      // 2: MEMORY. A consumeAndSet inside a group commit is a savepoint whose journal would
      // otherwise take a 4-byte and a 4 KB write per page it touches.
      expect(db.pragma("temp_store", { simple: true })).toBe(2);
    } finally {
      db.close();
    }
  });

  it("sets WAL mode and records the schema version", async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    await store.close?.();
    const db = new Database(path, { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("user_version", { simple: true })).toBe(2);
    db.close();
  });

  it("rejects a value that JSON cannot carry instead of storing garbage", async () => {
    const store = createSqliteStore({ path: freshPath() });
    await expect(store.set("k", undefined)).rejects.toThrow(TypeError);
    expect(await store.get("k")).toBeUndefined();
    await store.close?.();
  });
});
