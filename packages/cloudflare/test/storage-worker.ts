// A test Worker that exposes the Durable Object store over HTTP, so the shared contract suite
// (which runs in Node) drives the real store and object inside workerd.
import { createDurableObjectStore, PortcullisStorageObject, type DurableObjectNamespaceLike } from "../src/index.js";

/** The production class with a short sweep interval and a look at the raw table. */
export class TestStorageObject extends PortcullisStorageObject {
  protected override sweepIntervalMs = 100;
  rowCount(): number {
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM portcullis_entries").toArray()[0]!.n;
  }
  async alarmTime(): Promise<number | null> {
    return this.ctx.storage.getAlarm();
  }
}

interface Call {
  store: string;
  op: "get" | "set" | "setIfAbsent" | "delete" | "consume" | "consumeAndSet" | "increment" | "list" | "rowCount" | "alarmTime";
  key: string;
  value?: unknown;
  /** A TTL as text, so NaN and Infinity survive JSON. */
  ttl?: string;
  limit?: number;
  /** consumeAndSet's entries; a missing value stands for undefined, a TTL is text as above. */
  entries?: { key: string; value?: unknown; ttl?: string }[];
}

export default {
  async fetch(request: Request, env: { STORE: DurableObjectNamespaceLike }): Promise<Response> {
    const call = (await request.json()) as Call;
    const store = createDurableObjectStore(env.STORE, { name: call.store });
    const options = call.ttl === undefined ? undefined : { ttlSeconds: Number(call.ttl) };
    try {
      let result: unknown;
      switch (call.op) {
        case "get":
        case "consume":
        case "delete":
          result = await store[call.op](call.key);
          break;
        case "set":
        case "setIfAbsent":
          result = await store[call.op](call.key, call.value, options);
          break;
        case "consumeAndSet":
          result = await store.consumeAndSet!(
            call.key,
            (call.entries ?? []).map((e) => ({ key: e.key, value: e.value, ...(e.ttl === undefined ? {} : { options: { ttlSeconds: Number(e.ttl) } }) })),
          );
          break;
        case "increment":
          result = await store.increment(call.key, options);
          break;
        case "list":
          result = await store.list(call.key, call.limit === undefined ? {} : { limit: call.limit });
          break;
        case "rowCount":
        case "alarmTime": {
          const stub = env.STORE.get(env.STORE.idFromName(call.store)) as Record<string, () => Promise<unknown>>;
          result = await stub[call.op]!();
          break;
        }
      }
      return Response.json(result === undefined ? {} : { result });
    } catch (error) {
      const { name, message } = error as Error;
      return Response.json({ error: { name, message } });
    }
  },
};

export { PortcullisStorageObject };
