import { createServer, type Socket } from "node:net";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import type { Storage } from "@portcullis/core";
import { runStorageContract } from "@portcullis/core/testing";
import { createPostgresStore } from "./index.js";
import { POSTGRES_URL, freshSchema, postgresSkipReason } from "../test/availability.js";

const skipReason = await postgresSkipReason("postgres store");

// Every store in this file gets a schema of its own under this file's name, all dropped at the end.
const base = freshSchema("store");
let schemas = 0;
const nextSchema = () => `${base.name}_${++schemas}`;
const storeSchemas = new WeakMap<Storage, string>();
const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
admin.on("error", () => {});

afterAll(async () => {
  if (!skipReason) {
    const { rows } = await admin.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", [base.name]);
    for (const { nspname } of rows) await admin.query(`DROP SCHEMA ${pg.escapeIdentifier(nspname)} CASCADE`);
  }
  await admin.end();
});

runStorageContract("postgres", {
  skipReason,
  usesClock: true,
  async open(clock) {
    const schema = nextSchema();
    const store = createPostgresStore({ url: POSTGRES_URL, schema, now: clock.now });
    storeSchemas.set(store, schema);
    return store;
  },
  async reopen(store, clock) {
    await store.close?.();
    return createPostgresStore({ url: POSTGRES_URL, schema: storeSchemas.get(store)!, now: clock.now });
  },
});

const textOf = (query: unknown) => (typeof query === "string" ? query : (query as { text: string }).text);

/** A pool of `max` connections that records each statement sent (a text, or `{ name, text }`), and fails those `refuse` picks. */
function recordingPool(max: number, refuse: (text: string) => boolean = () => false) {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max });
  const sent: unknown[] = [];
  const recording = {
    query: (query: never, values?: unknown[]) => {
      sent.push(query);
      return refuse(textOf(query)) ? Promise.reject(new Error("connection lost")) : pool.query(query, values);
    },
    connect: () => pool.connect(),
  };
  return { pool, recording, sent };
}

describe.skipIf(Boolean(skipReason))("Postgres store against a server", () => {
  const opened: Storage[] = [];
  const open = (options: Parameters<typeof createPostgresStore>[0]) => {
    const store = createPostgresStore(options);
    opened.push(store);
    return store;
  };
  afterAll(async () => {
    await Promise.all(opened.map((store) => store.close?.()));
  });

  it("takes the schema from the URL's schema parameter and records the migration once", async () => {
    const schema = nextSchema();
    const url = new URL(POSTGRES_URL);
    url.searchParams.set("schema", schema);
    // Five instances starting at once on an empty database: one creates, the others wait and find it done.
    const stores = Array.from({ length: 5 }, () => open({ url: url.href }));
    await Promise.all(stores.map((store, i) => store.set(`k${i}`, i)));
    const { rows } = await admin.query(`SELECT version FROM ${pg.escapeIdentifier(schema)}.migrations`);
    expect(rows).toEqual([{ version: 1 }]);
    const count = await admin.query(`SELECT count(*)::int AS n FROM ${pg.escapeIdentifier(schema)}.entries`);
    expect(count.rows[0]).toEqual({ n: 5 });
    expect(await stores[4]!.get("k0")).toBe(0);
  });

  it("refuses a schema written by a newer version", async () => {
    const schema = nextSchema();
    const first = open({ url: POSTGRES_URL, schema });
    await first.get("k");
    await admin.query(`INSERT INTO ${pg.escapeIdentifier(schema)}.migrations (version) VALUES (99)`);
    const second = open({ url: POSTGRES_URL, schema });
    await expect(second.get("k")).rejects.toThrow(/schema version 99 is newer/);
  });

  it("lets exactly one of two instances consume a key", async () => {
    const schema = nextSchema();
    const a = open({ url: POSTGRES_URL, schema });
    const b = open({ url: POSTGRES_URL, schema });
    for (let round = 0; round < 10; round++) {
      await a.set(`code-${round}`, { round }, { ttlSeconds: 60 });
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).consume(`code-${round}`)));
      expect(results.filter((r) => r !== undefined)).toEqual([{ round }]);
    }
  });

  it("keeps values exactly, NUL characters included", async () => {
    const store = open({ url: POSTGRES_URL, schema: nextSchema() });
    const value = { name: "a\u0000b", emoji: "🔑", big: 2 ** 53 - 1, nested: [{ x: null }] };
    await store.set("k", value);
    expect(await store.get("k")).toEqual(value);
    await store.set("plain", 5);
    expect(await store.increment("plain")).toBe(6);
    expect(await store.get("plain")).toBe(6);
  });

  it("sweeps expired rows in the background on the store's clock", async () => {
    let time = Date.now();
    const schema = nextSchema();
    const store = open({ url: POSTGRES_URL, schema, now: () => time, sweepIntervalSeconds: 0.05 });
    await store.set("gone", 1, { ttlSeconds: 1 });
    await store.set("kept", 2, { ttlSeconds: 60 });
    await store.set("forever", 3);
    time += 2_000;
    const keys = async () => (await admin.query<{ key: string }>(`SELECT key FROM ${pg.escapeIdentifier(schema)}.entries ORDER BY key`)).rows.map((r) => r.key);
    await expect.poll(keys, { timeout: 3_000 }).toEqual(["forever", "kept"]);
  });

  it("delivers a published message to every subscriber of the channel, on every instance", async () => {
    const schema = nextSchema();
    const a = open({ url: POSTGRES_URL, schema });
    const b = open({ url: POSTGRES_URL, schema });
    const other = open({ url: POSTGRES_URL, schema: nextSchema() });
    const got: string[] = [];
    const seen = () => got.filter((m) => !m.endsWith(":warmup"));
    const unsubscribe = b.subscribe!("grant-revoked", (message) => got.push(`b:${message}`));
    a.subscribe!("other-channel", (message) => got.push(`a-other:${message}`));
    other.subscribe!("grant-revoked", (message) => got.push(`other-schema:${message}`));
    // LISTEN starts in the background: publish until every listener has heard one.
    const warm = async () => {
      await Promise.all([a.publish!("grant-revoked", "warmup"), a.publish!("other-channel", "warmup"), other.publish!("grant-revoked", "warmup")]);
      return new Set(got.map((m) => m.split(":")[0])).size;
    };
    await expect.poll(warm, { timeout: 3_000 }).toBe(3);
    // Warm-up messages still on their way are left out.
    await a.publish!("grant-revoked", "g-1");
    await expect.poll(() => seen(), { timeout: 2_000 }).toEqual(["b:g-1"]);
    unsubscribe();
    await a.publish!("grant-revoked", "g-2");
    await a.publish!("other-channel", "x");
    await expect.poll(() => seen(), { timeout: 2_000 }).toEqual(["b:g-1", "a-other:x"]);
  });

  it("listens again after its connection is killed", async () => {
    const schema = nextSchema();
    const a = open({ url: POSTGRES_URL, schema });
    const b = open({ url: POSTGRES_URL, schema, poolSize: 2 });
    const got: string[] = [];
    b.subscribe!("c", (message) => got.push(message));
    await expect
      .poll(
        async () => {
          await a.publish!("c", "1");
          return got.length;
        },
        { timeout: 3_000 },
      )
      .toBeGreaterThan(0);
    const channel = (await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND state = 'idle'")).rows;
    for (const { pid } of channel) await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    got.length = 0;
    await expect
      .poll(
        async () => {
          await a.publish!("c", "2");
          return got.length;
        },
        { timeout: 5_000 },
      )
      .toBeGreaterThan(0);
  });

  it("prepares each statement once per connection, named by its text, so two schemas share a pool", async () => {
    // One connection: both stores' statements, and the check below, run on it.
    const { pool, recording, sent } = recordingPool(1);
    try {
      const a = createPostgresStore({ pool: recording, schema: nextSchema() });
      const b = createPostgresStore({ pool: recording, schema: nextSchema() });
      await a.set("k", "a");
      await b.set("k", "b");
      expect([await a.get("k"), await b.get("k"), await a.get("k")]).toEqual(["a", "b", "a"]);
      const gets = sent.filter((q): q is { name: string; text: string } => typeof q === "object" && /^SELECT key, value/.test((q as { text: string }).text));
      expect(gets).toHaveLength(3);
      for (const q of gets) expect(q.name).toMatch(/^portcullis_[0-9a-f]{24}$/);
      // Same text (schema a), same name; another schema's text, another name.
      expect(gets[0]!.name).toBe(gets[2]!.name);
      expect(gets[1]!.name).not.toBe(gets[0]!.name);
      const { rows } = await pool.query<{ name: string }>("SELECT name FROM pg_prepared_statements");
      expect(rows.map((r) => r.name)).toEqual(expect.arrayContaining([gets[0]!.name, gets[1]!.name]));
      await Promise.all([a.close?.(), b.close?.()]);
    } finally {
      await pool.end();
    }
  });

  it("sends the reads asked for in one turn of the event loop as one statement, each reader with its own copy", async () => {
    let failReads = false;
    const { pool, recording, sent } = recordingPool(2, (text) => failReads && text.startsWith("SELECT key, value"));
    const reads = () => sent.filter((q) => textOf(q).startsWith("SELECT")).length;
    try {
      const store = createPostgresStore({ pool: recording, schema: nextSchema() });
      await store.set("a", { n: 1 });
      await store.set("b", [2]);
      await store.set("gone", 3, { ttlSeconds: 0.001 });
      await new Promise((resolve) => setTimeout(resolve, 5));
      const before = reads();
      const [a1, a2, b, missing, gone] = await Promise.all([
        store.get<{ n: number }>("a"),
        store.get<{ n: number }>("a"),
        store.get("b"),
        store.get("none"),
        store.get("gone"),
      ]);
      expect(reads() - before).toBe(1);
      expect([a1, a2, b, missing, gone]).toEqual([{ n: 1 }, { n: 1 }, [2], undefined, undefined]);
      a1!.n = 99;
      expect(a2).toEqual({ n: 1 });
      // A read alone is one statement too; more than 256 keys at once, one statement per 256.
      expect(await store.get("b")).toEqual([2]);
      expect(reads() - before).toBe(2);
      const many = await Promise.all(Array.from({ length: 300 }, (_, i) => store.get(i === 299 ? "a" : `k${i}`)));
      expect(reads() - before).toBe(4);
      expect(many[299]).toEqual({ n: 1 });
      expect(many.slice(0, 299).every((v) => v === undefined)).toBe(true);
      // A failed statement fails each of its readers, and the next reads go out again.
      failReads = true;
      const failed = await Promise.allSettled([store.get("a"), store.get("b")]);
      expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
      failReads = false;
      expect(await Promise.all([store.get("a"), store.get("b")])).toEqual([{ n: 1 }, [2]]);
      await store.close?.();
    } finally {
      await pool.end();
    }
  });

  it("sends the increments of one turn as one statement, each caller with the count its own increment made", async () => {
    let failIncrements = false;
    const isIncrement = (text: string) => text.startsWith("INSERT") && text.includes("unnest($1::text[], $2::bigint[]");
    const { pool, recording, sent } = recordingPool(2, (text) => failIncrements && isIncrement(text));
    const increments = () => sent.filter((q) => isIncrement(textOf(q))).length;
    let t = 1_000_000;
    try {
      const store = createPostgresStore({ pool: recording, schema: nextSchema(), now: () => t });
      await store.set("text", "not a counter");
      expect(await store.increment("old", { ttlSeconds: 10 })).toBe(1);
      t += 20_000; // "old" has expired: the batch below starts it again
      const before = increments();
      const counts = await Promise.allSettled([
        store.increment("a", { ttlSeconds: 60 }),
        store.increment("b"),
        store.increment("a", { ttlSeconds: 1 }),
        store.increment("text"),
        store.increment("old", { ttlSeconds: 10 }),
        store.increment("a", { ttlSeconds: 1 }),
        store.increment("old", { ttlSeconds: 10 }),
      ]);
      expect(increments() - before).toBe(1);
      expect(counts.map((r) => (r.status === "fulfilled" ? r.value : "refused"))).toEqual([1, 1, 2, "refused", 1, 3, 2]);
      expect(String((counts[3] as PromiseRejectedResult).reason)).toMatch(/does not hold a counter/);
      expect(await store.get("text")).toBe("not a counter");
      // "a" was made by its first caller (60 s): still live after the later callers' 1 s.
      t += 30_000;
      expect(await store.increment("a", { ttlSeconds: 1 })).toBe(4);
      // A bad option fails its own caller and no other; more than 256 keys, one statement per 256.
      const mixed = await Promise.allSettled([store.increment("b", { ttlSeconds: -1 }), store.increment("b")]);
      expect(mixed.map((r) => r.status)).toEqual(["rejected", "fulfilled"]);
      const at = increments();
      const many = await Promise.all(Array.from({ length: 300 }, (_, i) => store.increment(`n${i % 299}`)));
      expect(increments() - at).toBe(2);
      expect(many[298]).toBe(1);
      expect(many[299]).toBe(2); // n0's second caller
      // A failed statement fails each of its callers and counts nothing; the next calls go out again.
      failIncrements = true;
      const failed = await Promise.allSettled([store.increment("b"), store.increment("c")]);
      expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
      failIncrements = false;
      expect(await Promise.all([store.increment("b"), store.increment("c")])).toEqual([3, 1]);
      await store.close?.();
    } finally {
      await pool.end();
    }
  });

  it("lets two instances' batches of shared counters run at once without a deadlock", async () => {
    const schema = nextSchema();
    const a = open({ url: POSTGRES_URL, schema, poolSize: 4 });
    const b = open({ url: POSTGRES_URL, schema, poolSize: 4 });
    const keys = Array.from({ length: 250 }, (_, i) => `k${i}`);
    // Each round, A asks in one order and B in the other: rows taken in the asking order would cross.
    for (let round = 0; round < 10; round++) {
      await Promise.all([
        ...keys.map((key) => a.increment(key)),
        ...keys.toReversed().map((key) => b.increment(key)),
        ...keys.map((key) => a.increment(key)),
        ...keys.toReversed().map((key) => b.increment(key)),
      ]);
    }
    expect(await Promise.all(keys.map((key) => a.get(key)))).toEqual(keys.map(() => 40));
  });

  it("sends plain statements with prepareStatements: false (a pooler that cannot keep them)", async () => {
    const { pool, recording, sent } = recordingPool(1);
    try {
      const store = createPostgresStore({ pool: recording, schema: nextSchema(), prepareStatements: false });
      await store.set("k", { a: 1 });
      expect(await store.consumeAndSet!("k", [{ key: "n", value: 2 }])).toEqual({ a: 1 });
      expect(await store.get("n")).toBe(2);
      expect(sent.length).toBeGreaterThanOrEqual(3);
      for (const q of sent) expect(typeof q).toBe("string");
      const { rows } = await pool.query("SELECT name FROM pg_prepared_statements");
      expect(rows).toEqual([]);
      await store.close?.();
    } finally {
      await pool.end();
    }
  });

  it("uses a pool it is given and leaves it open on close", async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 3 });
    try {
      const store = createPostgresStore({ pool, schema: nextSchema() });
      await store.set("k", { a: 1 });
      expect(await store.consume("k")).toEqual({ a: 1 });
      await store.close?.();
      await expect(store.get("k")).rejects.toThrow(/closed/);
      expect((await pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});

describe("Postgres store options and outages", () => {
  it("refuses bad options at construction", () => {
    expect(() => createPostgresStore({} as never)).toThrow(/exactly one of `url` and `pool`/);
    expect(() => createPostgresStore({ url: "mysql://x/db" })).toThrow(/postgres:\/\//);
    expect(() => createPostgresStore({ url: POSTGRES_URL, schema: 'x"; DROP TABLE y; --' })).toThrow(/`schema`/);
    expect(() => createPostgresStore({ url: `${POSTGRES_URL}?schema=1abc` })).toThrow(/`schema`/);
    expect(() => createPostgresStore({ url: POSTGRES_URL, poolSize: 0 })).toThrow(/poolSize/);
    expect(() => createPostgresStore({ url: POSTGRES_URL, prepareStatements: "no" as never })).toThrow(/prepareStatements/);
  });

  it("rejects quickly when nothing listens, and hides the password", async () => {
    const store = createPostgresStore({ url: "postgres://user:hunter2@127.0.0.1:1/db" });
    const error = await store.get("k").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/cannot open schema "portcullis" at postgres:\/\/\*\*\*@127\.0\.0\.1:1\/db/);
    expect((error as Error).message).not.toContain("hunter2");
    await store.close?.();
  }, 8_000);

  it("rejects instead of hanging when the server accepts but never answers", async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const store = createPostgresStore({ url: `postgres://u@127.0.0.1:${port}/db` });
    try {
      await expect(store.get("k")).rejects.toThrow(/cannot open schema/);
    } finally {
      await store.close?.();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 15_000);
});
