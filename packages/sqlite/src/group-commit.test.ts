import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createSqliteStore } from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "portcullis-sqlite-batch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(dir, `batch-${++files}.db`);

/** A second connection on the file: it sees only what the store has committed. */
const committed = (path: string, key: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare("SELECT value FROM entries WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  } finally {
    db.close();
  }
};
const onFile = (path: string, sql: string) => {
  const db = new Database(path);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
};

describe("SQLite store: group commit", () => {
  it("has committed a write by the time its promise resolves", async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    try {
      await Promise.all(Array.from({ length: 100 }, (_, i) => store.set(`k${i}`, i)));
      // Not closed: another connection must already see every resolved write.
      for (const i of [0, 57, 99]) expect(committed(path, `k${i}`)).toBe(String(i));
      const again = createSqliteStore({ path });
      expect(await again.get("k42")).toBe(42);
      await again.close?.();
    } finally {
      await store.close?.();
    }
  });

  it("applies operations in call order, within one batch too", async () => {
    const store = createSqliteStore({ path: freshPath() });
    try {
      const set = store.set("k", "first");
      const read = store.get("k");
      const consumed = store.consume("k");
      const after = store.get("k");
      await set;
      expect([await read, await consumed, await after]).toEqual(["first", "first", undefined]);
    } finally {
      await store.close?.();
    }
  });

  it("gives a key to exactly one of 50 consumers queued in the same batch as its write", async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    try {
      for (let round = 0; round < 5; round++) {
        const write = store.set(`once-${round}`, round, { ttlSeconds: 60 });
        const results = await Promise.all(Array.from({ length: 50 }, () => store.consume(`once-${round}`)));
        await write;
        expect(results.filter((r) => r !== undefined)).toEqual([round]);
        expect(committed(path, `once-${round}`)).toBeUndefined();
      }
    } finally {
      await store.close?.();
    }
  });

  it("rejects only the caller whose statement failed and commits the rest of the batch", async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    try {
      await store.set("warm-up", 1); // creates the schema before the trigger refers to it
      onFile(path, `CREATE TRIGGER refuse BEFORE INSERT ON entries WHEN NEW.key = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END;`);
      const results = await Promise.allSettled([store.set("a", 1), store.set("bad", 2), store.set("b", 3), store.increment("n")]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
      expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/refused/);
      expect([committed(path, "a"), committed(path, "bad"), committed(path, "b"), committed(path, "n")]).toEqual(["1", undefined, "3", "1"]);
    } finally {
      await store.close?.();
    }
  });

  it("rejects every caller of a batch whose transaction failed, and keeps none of its writes", async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    try {
      await store.set("spent", "value");
      onFile(path, `CREATE TRIGGER abort_all BEFORE INSERT ON entries WHEN NEW.key = 'poison' BEGIN SELECT RAISE(ROLLBACK, 'whole batch'); END;`);
      const results = await Promise.allSettled([store.consume("spent"), store.set("a", 1), store.set("poison", 2), store.set("b", 3), store.get("spent")]);
      expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected", "rejected", "rejected"]);
      for (const r of results) expect(String((r as PromiseRejectedResult).reason)).toMatch(/whole batch/);
      expect([committed(path, "spent"), committed(path, "a"), committed(path, "b")]).toEqual(['"value"', undefined, undefined]);
      // The next batch starts a fresh transaction.
      await store.set("c", 4);
      expect(await store.consume("spent")).toBe("value");
      expect(committed(path, "c")).toBe("4");
    } finally {
      await store.close?.();
    }
  });

  it("rejects a value JSON cannot carry at the call, without failing its batch", async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    try {
      const results = await Promise.allSettled([store.set("a", 1), store.set("u", undefined), store.set("b", 2)]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
      expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
      expect([committed(path, "a"), committed(path, "b")]).toEqual(["1", "2"]);
    } finally {
      await store.close?.();
    }
  });

  it("commits what is still queued when closed", async () => {
    const path = freshPath();
    const store = createSqliteStore({ path });
    const write = store.set("late", "kept");
    await store.close?.();
    await write;
    expect(committed(path, "late")).toBe('"kept"');
  });
});

describe("SQLite store: schema migration", () => {
  it("moves a version 1 file (WITHOUT ROWID) to version 2 with every row, value and expiry", async () => {
    const path = freshPath();
    const t = 1_000_000;
    const v1 = new Database(path);
    v1.pragma("journal_mode = WAL");
    v1.exec(`CREATE TABLE entries (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL, expires_at INTEGER) WITHOUT ROWID;
             CREATE INDEX entries_expires_at ON entries (expires_at) WHERE expires_at IS NOT NULL;`);
    const insert = v1.prepare("INSERT INTO entries VALUES (?, ?, ?)");
    insert.run("forever", '{"a":1}', null);
    insert.run("live", '"x"', t + 5_000);
    insert.run("expired", '"y"', t - 1);
    insert.run("user:alice:grant:1", '"a"', null);
    v1.pragma("user_version = 1");
    v1.close();

    let now = t;
    const store = createSqliteStore({ path, now: () => now });
    try {
      expect(await store.get("forever")).toEqual({ a: 1 });
      expect(await store.get("live")).toBe("x");
      expect(await store.get("expired")).toBeUndefined();
      expect(await store.list("user:alice:")).toEqual([{ key: "user:alice:grant:1", value: "a" }]);
      now = t + 5_000;
      expect(await store.get("live")).toBeUndefined();
      await store.set("forever", { a: 2 });
      expect(await store.get("forever")).toEqual({ a: 2 });
    } finally {
      await store.close?.();
    }
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma("user_version", { simple: true })).toBe(2);
      const sql = (db.prepare("SELECT sql FROM sqlite_master WHERE name = 'entries'").get() as { sql: string }).sql;
      expect(sql).not.toMatch(/WITHOUT ROWID/i);
      expect((db.prepare("SELECT count(*) AS n FROM entries").get() as { n: number }).n).toBe(4);
    } finally {
      db.close();
    }
  });
});
