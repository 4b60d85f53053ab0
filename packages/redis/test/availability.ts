import { createClient } from "redis";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/**
 * Undefined when a Redis server answers PING within about a second; otherwise why not, printed as
 * the reason the calling suite skips. Under CI a missing server is an error: CI must run them.
 */
export async function redisSkipReason(suite: string): Promise<string | undefined> {
  const client = createClient({ url: REDIS_URL, socket: { connectTimeout: 1_000, reconnectStrategy: false } });
  client.on("error", () => {});
  let timer: NodeJS.Timeout | undefined;
  let reason: string | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no answer within 1 s")), 1_000);
    });
    await Promise.race([client.connect().then(() => client.ping()), deadline]);
  } catch (error) {
    reason = `no Redis server at ${REDIS_URL} (${error instanceof Error ? error.message || error.name : String(error)})`;
  } finally {
    clearTimeout(timer);
    if (client.isOpen) client.destroy();
  }
  if (reason && process.env.CI) throw new Error(`${reason}; CI must run the Redis tests`);
  if (reason) console.warn(`[${suite}] skipped: ${reason}`);
  return reason;
}
