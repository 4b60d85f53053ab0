import { spawnSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BIN, runCli, tempHome } from "./cli-helpers.js";

const LINK = fileURLToPath(new URL("../../../node_modules/.bin/portcullis", import.meta.url));

describe("the portcullis command", () => {
  it("is linked at node_modules/.bin/portcullis by npm install and runs without a build step", () => {
    expect(existsSync(LINK)).toBe(true);
    expect(realpathSync(LINK)).toBe(realpathSync(BIN));
    const help = spawnSync(LINK, ["help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/portcullis check <mcp-url> \[--json\]/);
  });

  it("usage errors exit 2: no command, an unknown command, a missing URL, an unknown option", async () => {
    for (const args of [[], ["frobnicate", "https://x.test/mcp"], ["token"], ["check", "https://x.test/mcp", "--nope"]]) {
      const out = await runCli(args);
      expect(out.code, args.join(" ")).toBe(2);
    }
  });

  it("login refuses a plain-http URL that is not loopback, before any request", async () => {
    const out = await runCli(["login", "http://mcp.example.com/mcp", "--no-open"], { PORTCULLIS_HOME: tempHome() });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/https/);
  });
});
