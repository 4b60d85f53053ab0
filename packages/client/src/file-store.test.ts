import { mkdtempSync, readdirSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createFileStore } from "./file-store.js";
import type { StoredSession } from "./store.js";

const home = () => mkdtempSync(join(tmpdir(), "portcullis-store-"));
const session = (mcpUrl: string): StoredSession => ({
  version: 1,
  mcp_url: mcpUrl,
  resource: mcpUrl,
  issuer: "https://as.test",
  authorization_server: { issuer: "https://as.test" },
  client_id: "c",
  access_token: "at",
  token_type: "bearer",
  updated_at: 0,
});

describe("file store", () => {
  it("keeps one 0600 file per MCP URL in a 0700 directory, with the format version, and reads it back", async () => {
    const dir = home();
    const store = createFileStore({ home: dir });
    await store.saveSession(session("https://mcp.test/mcp"));
    expect(await store.getSession("https://mcp.test/mcp#frag")).toMatchObject({ version: 1, access_token: "at" });
    expect(await store.getSession("https://mcp.test/other")).toBeUndefined();
    const [file] = readdirSync(join(dir, "sessions"));
    expect(statSync(join(dir, "sessions", file!)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "sessions")).mode & 0o777).toBe(0o700);
    await store.deleteSession("https://mcp.test/mcp");
    expect(readdirSync(join(dir, "sessions"))).toEqual([]);
  });

  it("refuses a record written by a newer format version instead of misreading it", async () => {
    const dir = home();
    const store = createFileStore({ home: dir });
    await store.saveSession(session("https://mcp.test/mcp"));
    const [file] = readdirSync(join(dir, "sessions"));
    writeFileSync(join(dir, "sessions", file!), JSON.stringify({ ...session("https://mcp.test/mcp"), version: 99 }));
    await expect(store.getSession("https://mcp.test/mcp")).rejects.toMatchObject({ code: "store_version" });
  });

  it("lock: holders of the same key run one at a time, across store instances (as across processes)", async () => {
    const dir = home();
    const a = createFileStore({ home: dir });
    const b = createFileStore({ home: dir });
    let inside = 0;
    let most = 0;
    const work = (store: typeof a) =>
      store.lock("k", async () => {
        inside++;
        most = Math.max(most, inside);
        await new Promise((r) => setTimeout(r, 30));
        inside--;
      });
    await Promise.all([work(a), work(b), work(a), work(b)]);
    expect(most).toBe(1);
    expect(readdirSync(join(dir, "locks"))).toEqual([]);
  });

  it("lock: takes over a lock file left by a dead process", async () => {
    const dir = home();
    mkdirSync(join(dir, "locks"), { recursive: true });
    const store = createFileStore({ home: dir, lockTimeoutMs: 2_000 });
    // Hold it once to learn the file name, then plant a lock of a process that no longer exists.
    await store.lock("k", async () => undefined);
    await store.lock("k", async () => {
      const [name] = readdirSync(join(dir, "locks"));
      (globalThis as { planted?: string }).planted = name;
    });
    const name = (globalThis as { planted?: string }).planted!;
    writeFileSync(join(dir, "locks", name), JSON.stringify({ pid: 2 ** 22 + 12345, at: Date.now() }));
    const started = Date.now();
    expect(await store.lock("k", async () => "ran")).toBe("ran");
    expect(Date.now() - started).toBeLessThan(1_500);
  });
});
