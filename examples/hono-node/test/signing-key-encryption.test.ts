import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { callWhoami, freePort, registerClient, signInForTokens, startExample, tokenRequest, type RunningExample } from "@portcullis/example-shared/testing";

const dir = fileURLToPath(new URL("..", import.meta.url));
const running: RunningExample[] = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop("SIGKILL");
});

/** A private JWK's `d` member, as JSON text. */
const PRIVATE_MEMBER = /"d"\s*:\s*"/;

describe("Signing keys encrypted at rest, on SQLite", () => {
  it("generates SIGNING_KEY_ENCRYPTION_KEY beside the database (0600), keeps no private key in plaintext, and its tokens verify after a restart", async () => {
    const folder = mkdtempSync(join(tmpdir(), "portcullis-keyseal-"));
    const db = join(folder, "store.db");
    const keyFile = `${db}.signing-key-encryption-key`;
    const port = await freePort();
    const base = `http://localhost:${port}`;
    const start = async () => {
      const example = await startExample(dir, { STORE: `sqlite:${db}`, PORT: String(port) });
      running.push(example);
      return example;
    };
    const first = await start();
    expect(first.output()).toContain(keyFile);
    expect(existsSync(keyFile)).toBe(true);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);

    const client = await registerClient(base);
    const tokens = await signInForTokens(base, client);
    expect(tokens.status).toBe(200);
    expect((await callWhoami(base, tokens.body.access_token!)).status).toBe(200);

    const stored = readdirSync(folder)
      .filter((f) => f.startsWith("store.db") && f !== "store.db.signing-key-encryption-key")
      .map((f) => readFileSync(join(folder, f)).toString("latin1"))
      .join("\n");
    // The key set is there, its private halves sealed.
    expect(stored).toContain("sealedPrivateJwk");
    expect(PRIVATE_MEMBER.test(stored)).toBe(false);

    await first.stop("SIGKILL");
    const second = await start();
    expect(second.output()).toContain(keyFile);
    expect((await callWhoami(base, tokens.body.access_token!)).status).toBe(200);
    const refreshed = await tokenRequest(base, { grant_type: "refresh_token", refresh_token: tokens.body.refresh_token!, client_id: client.clientId });
    expect(refreshed.status).toBe(200);
    expect((await callWhoami(base, refreshed.body.access_token!)).status).toBe(200);
  });
});
