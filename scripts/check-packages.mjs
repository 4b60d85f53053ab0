#!/usr/bin/env node
// `npm run check:packages`: what a user who installs from the npm registry gets, checked the way
// they would get it. Packs every published package (its `prepack` builds dist/), runs publint and
// @arethetypeswrong/cli on each tarball, installs the tarballs into fresh consumer projects
// outside this repository (npm, then pnpm in its default isolated layout: an undeclared dependency
// fails there even when hoisting hides it), and in each one imports every entry, typechecks the
// README snippets with `module: nodenext` and with `moduleResolution: bundler`, and runs them:
// each adapter's server answers metadata 200, registration 201 and a 401 with `resource_metadata`
// on /mcp; the Worker snippet runs in workerd (Miniflare); script snippets run offline (no fetch,
// no socket) to completion and print what the README says they print.
//
// The snippets come from the READMEs (and MIGRATING.md) themselves, so docs cannot drift from code: a fenced ```ts
// block preceded by `<!-- check:packages KIND -->` is checked, where KIND is `hono`, `express`,
// `node` (a server listening on PORT), `worker` (a module Worker with a PORTCULLIS_STORE Durable
// Object binding), `script` (runs and exits 0; `expect="text"` must appear in its output) or
// `types` (typechecked only). Every snippet gets PORT, PUBLIC_URL, DEMO_PASSWORD, REPORT_SECRET
// and REGISTRATION_TOKEN in its environment.
//
// Options: --keep (leave the temporary directory), --skip-pnpm, --skip-npm, --tarballs=<dir>
// (check tarballs packed before instead of packing).
// Exit status 1 when any step failed.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const keep = args.includes("--keep");
const requireFromRoot = createRequire(join(ROOT, "package.json"));
const BIN = join(ROOT, "node_modules", ".bin");
const TSC = requireFromRoot.resolve("typescript/bin/tsc");
// pnpm's current major, fetched from the npm registry by npx (as a devDependency its lockfile
// entry names platform packages a partial registry mirror lacks, which breaks `npm ci`).
const PNPM = "pnpm@12";
const started = Date.now();

/** Registry packages the snippets use, besides the @portcullis tarballs; ranges from this repo's manifests. */
const REGISTRY_DEPS = ["hono", "@hono/node-server", "express", "@modelcontextprotocol/sdk", "@types/node", "@types/express"];
/** The environment every snippet runs with. */
const SNIPPET_ENV = {
  DEMO_PASSWORD: "check-packages-password",
  REPORT_SECRET: "check-packages-report-secret",
  REGISTRATION_TOKEN: "check-packages-registration-token",
};

// ---------------------------------------------------------------------------------------------
// Steps and the summary

/** @type {{ name: string, ok: boolean, ms: number, detail?: string }[]} */
const results = [];

/** Runs one step; a failure is recorded with its output and the run goes on. Answers whether it passed. */
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - t0 });
    console.log(`PASS  ${name}  (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return true;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    results.push({ name, ok: false, ms: Date.now() - t0, detail });
    console.log(`FAIL  ${name}  (${((Date.now() - t0) / 1000).toFixed(1)} s)\n${indent(detail)}`);
    return false;
  }
}

function indent(text, max = 60) {
  const lines = text.trim().split("\n");
  const shown = lines.length > max ? [...lines.slice(0, max), `... (${lines.length - max} more lines)`] : lines;
  return shown.map((line) => `      ${line}`).join("\n");
}

function fail(message) {
  throw new Error(message);
}

/** Runs a command; rejects with its output when it exits non-zero or outlives `timeoutMs`. */
function run(command, commandArgs, { cwd, env, timeoutMs = 300_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, commandArgs, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      output += `\n(killed after ${timeoutMs / 1000} s)`;
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${basename(command)} ${commandArgs.join(" ")} exited with ${code}\n${output}`));
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// The packages

const rootManifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const workspaceDirs = rootManifest.workspaces.flatMap((pattern) => {
  if (!pattern.endsWith("/*")) return [pattern];
  const parent = pattern.slice(0, -2);
  return readdirSync(join(ROOT, parent)).map((name) => `${parent}/${name}`);
});
const manifests = workspaceDirs
  .filter((dir) => existsSync(join(ROOT, dir, "package.json")))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(ROOT, dir, "package.json"), "utf8")) }));
const packages = manifests.filter(({ manifest }) => !manifest.private);

/** The range this repository uses for a registry package (dependencies first, then peers, then dev). */
function rangeOf(name) {
  for (const field of ["dependencies", "peerDependencies", "devDependencies"]) {
    for (const { manifest } of [{ manifest: rootManifest }, ...packages, ...manifests]) {
      const range = manifest[field]?.[name];
      if (range && !range.startsWith("file:") && range !== "*") return range;
    }
  }
  return "*";
}

const work = mkdtempSync(join(tmpdir(), "portcullis-check-"));
const tarballDir = join(work, "tarballs");
mkdirSync(tarballDir);
console.log(`check:packages: ${packages.length} packages, working in ${work}\n`);

/** @type {Map<string, { file: string, dir: string, manifest: any }>} */
const tarballs = new Map();
// `--tarballs=<dir>` checks tarballs packed before (named as npm pack names them) instead of packing.
const given = args.find((a) => a.startsWith("--tarballs="))?.slice("--tarballs=".length);
for (const { dir, manifest: source } of packages) {
  await step(`pack ${source.name}`, async () => {
    let file;
    if (given) {
      file = join(given, `${source.name.replace(/^@/, "").replace("/", "-")}-${source.version}.tgz`);
      if (!existsSync(file)) fail(`no ${file}`);
    } else {
      const output = await run("npm", ["pack", "--pack-destination", tarballDir, "--json", "--foreground-scripts=false"], { cwd: join(ROOT, dir) });
      const [info] = JSON.parse(output.slice(output.indexOf("\n[") + 1 || output.indexOf("[")));
      file = join(tarballDir, info.filename);
    }
    // What the registry would serve: the manifest and the file list inside the tarball.
    const manifest = JSON.parse(await run("tar", ["-xzf", file, "-O", "package/package.json"]));
    const shipped = new Set(
      (await run("tar", ["-tzf", file]))
        .split("\n")
        .filter(Boolean)
        .map((path) => path.replace(/^package\//, "")),
    );
    tarballs.set(source.name, { file, dir, manifest });
    // Every exports target must be in the tarball (publint says so too, with less context).
    const missing = exportTargets(manifest.exports).filter((target) => !target.includes("*") && !shipped.has(target.replace(/^\.\//, "")));
    if (missing.length) fail(`exports point at files the tarball lacks: ${missing.join(", ")}`);
  });
}

function exportTargets(exports) {
  if (typeof exports === "string") return [exports];
  if (!exports || typeof exports !== "object") return [];
  return Object.values(exports).flatMap(exportTargets);
}

// ---------------------------------------------------------------------------------------------
// Every bare import of the shipped JavaScript and declarations is declared. pnpm's default layout
// still lets a package reach what another package brought (its hidden hoisting under
// node_modules/.pnpm), so an install alone does not catch every undeclared dependency.

for (const [name, { file, manifest }] of tarballs) {
  await step(`declared imports ${name}`, async () => {
    const listing = await run("tar", ["-xzf", file, "-O", "--wildcards", "package/dist/*.js", "package/dist/*.d.ts"], { timeoutMs: 30_000 }).catch((error) =>
      fail(`cannot read dist/ from the tarball: ${error.message}`),
    );
    const declared = new Set(Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies }));
    const used = new Set();
    const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)["']([^"'./][^"']*)["']/g;
    for (const [, specifier] of listing.matchAll(SPECIFIER)) {
      if (specifier.startsWith("node:") || specifier.startsWith("cloudflare:") || builtinModules.includes(specifier)) continue;
      const parts = specifier.split("/");
      used.add(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]);
    }
    used.delete(name);
    const missing = [...used].filter((dependency) => !declared.has(dependency));
    if (missing.length) fail(`imported but not declared in dependencies or peerDependencies: ${missing.join(", ")}`);
    if (used.size === 0 && !listing.includes("export")) fail("found no JavaScript or declarations in dist/");
  });
}

// ---------------------------------------------------------------------------------------------
// publint and attw, on the tarballs

const { publint } = await import(requireFromRoot.resolve("publint"));
const { formatMessage } = await import(pathToFileHref(requireFromRoot.resolve("publint/utils")));
for (const [name, { file }] of tarballs) {
  await step(`publint ${name}`, async () => {
    const tarball = readFileSync(file);
    const { messages, pkg } = await publint({
      pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
      level: "suggestion",
      strict: false,
    });
    const lines = messages.map((m) => `${m.type}: ${formatMessage(m, pkg, { color: false }) ?? m.code}`);
    const bad = messages.filter((m) => m.type !== "suggestion");
    if (bad.length) fail(lines.join("\n"));
    for (const line of lines) console.log(`      ${line}`);
  });
}

function pathToFileHref(path) {
  return new URL(`file://${path}`).href;
}

// The packages are ESM only (`type: module`, no `require` condition), so the CommonJS resolution
// rows cannot pass by design: `--profile esm-only` leaves them out and checks node16-ESM and
// bundler resolution.
await Promise.all(
  [...tarballs].map(([name, { file }]) =>
    step(`attw ${name}`, () => run(join(BIN, "attw"), [file, "--profile", "esm-only", "--format", "table-flipped", "--no-color"], { timeoutMs: 120_000 })),
  ),
);

// ---------------------------------------------------------------------------------------------
// The README snippets

const readmes = ["README.md", "MIGRATING.md", ...packages.map(({ dir }) => `${dir}/README.md`)].filter((path) => existsSync(join(ROOT, path)));
/** @type {{ id: string, kind: string, expect?: string, code: string, source: string }[]} */
const snippets = [];
const MARKER = /<!--\s*check:packages\s+(\w+)([^>]*?)-->\s*\n```(ts|typescript|js|javascript)[^\n]*\n([\s\S]*?)\n```/g;
for (const readme of readmes) {
  const text = readFileSync(join(ROOT, readme), "utf8");
  for (const match of text.matchAll(MARKER)) {
    const [, kind, attributes, lang, code] = match;
    const line = text.slice(0, match.index).split("\n").length;
    const slug = readme === "README.md" ? "root" : readme.includes("/") ? basename(dirname(readme)) : basename(readme, ".md").toLowerCase();
    const expect = /expect="([^"]*)"/.exec(attributes)?.[1];
    // TypeScript compiles to .js; JavaScript blocks are ES modules, checked as JS (allowJs) and copied to build/ as .mjs.
    const [ext, out] = lang.startsWith("t") ? [".ts", ".js"] : [".mjs", ".mjs"];
    snippets.push({ id: `${slug}-${kind}-L${line}`, kind, expect, code, ext, out, source: `${readme}:${line}` });
  }
}
const KINDS = new Set(["hono", "express", "node", "worker", "script", "types"]);
await step(`extract README snippets (${snippets.length} from ${readmes.join(", ")})`, () => {
  const unknown = snippets.filter((s) => !KINDS.has(s.kind));
  if (unknown.length) fail(`unknown kinds: ${unknown.map((s) => `${s.kind} at ${s.source}`).join(", ")}`);
  for (const kind of ["hono", "express", "node", "worker", "script"]) {
    if (!snippets.some((s) => s.kind === kind)) fail(`no runnable ${kind} snippet in the READMEs`);
  }
});

// ---------------------------------------------------------------------------------------------
// Consumers

function consumerManifest() {
  const dependencies = {};
  const overrides = {};
  for (const [name, { file }] of tarballs) {
    dependencies[name] = `file:${file}`;
    overrides[name] = `file:${file}`;
  }
  for (const name of REGISTRY_DEPS) dependencies[name] = rangeOf(name);
  return { name: "portcullis-consumer", private: true, type: "module", dependencies, overrides };
}

function writeConsumer(dir, manager) {
  mkdirSync(join(dir, "snippets"), { recursive: true });
  const manifest = consumerManifest();
  if (manager === "pnpm") {
    // pnpm reads overrides and the packages allowed to run install scripts from its workspace file.
    const { overrides } = manifest;
    delete manifest.overrides;
    const yaml = [
      "overrides:",
      ...Object.entries(overrides).map(([name, spec]) => `  "${name}": "${spec}"`),
      // pnpm runs no dependency's install script unless allowed: better-sqlite3 needs its own.
      "allowBuilds:",
      "  better-sqlite3: true",
      "",
    ].join("\n");
    writeFileSync(join(dir, "pnpm-workspace.yaml"), yaml);
  }
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const snippet of snippets) writeFileSync(join(dir, "snippets", `${snippet.id}${snippet.ext}`), `${snippet.code}\n`);
  // Strict, with every .d.ts checked (no skipLibCheck). The DOM library gives the Fetch types
  // (HeadersInit, CryptoKey, ...) that Hono's and the MCP SDK's declarations need as well.
  const common = {
    strict: true,
    target: "es2022",
    lib: ["es2023", "dom"],
    types: ["node"],
    skipLibCheck: false,
    allowJs: true,
    noEmitOnError: true,
    forceConsistentCasingInFileNames: true,
  };
  writeFileSync(
    join(dir, "tsconfig.nodenext.json"),
    JSON.stringify(
      {
        compilerOptions: { ...common, module: "nodenext", moduleResolution: "nodenext", outDir: "build", rootDir: "snippets", sourceMap: true },
        include: ["snippets"],
      },
      null,
      2,
    ),
  );
  writeFileSync(
    join(dir, "tsconfig.bundler.json"),
    JSON.stringify({ compilerOptions: { ...common, module: "preserve", moduleResolution: "bundler", noEmit: true }, include: ["snippets"] }, null, 2),
  );
}

/** The entries a user imports, each checked to load in Node (the Worker package loads in workerd only). */
function entryPoints() {
  const entries = [];
  for (const [name, { manifest }] of tarballs) {
    if (manifest.name === "@portcullis/cloudflare") continue;
    for (const subpath of Object.keys(typeof manifest.exports === "object" ? manifest.exports : { ".": 0 })) {
      if (subpath === "./package.json" || subpath.includes("*")) continue;
      entries.push(subpath === "." ? name : `${name}/${subpath.slice(2)}`);
    }
  }
  return entries;
}

/**
 * npm's `nodedir`, when configured, for pnpm too: where better-sqlite3 has no prebuilt binary to
 * download, node-gyp compiles it against these headers instead of downloading them.
 */
async function npmNodedir() {
  const nodedir = (await run("npm", ["config", "get", "nodedir"]).catch(() => "")).trim();
  return nodedir && nodedir !== "undefined" && nodedir !== "null" ? { npm_config_nodedir: nodedir } : {};
}

/** Installs a consumer; answers its directory, or undefined when the install failed. */
async function installConsumer(manager) {
  const dir = join(work, `consumer-${manager}`);
  writeConsumer(dir, manager);
  const install =
    manager === "npm"
      ? () => run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, timeoutMs: 300_000 })
      : async () =>
          run("npx", ["--yes", PNPM, "install", "--config.confirmModulesPurge=false", "--reporter=append-only"], {
            cwd: dir,
            env: { CI: "true", ...(await npmNodedir()) },
            timeoutMs: 300_000,
          });
  return (await step(`${manager}: install the tarballs into ${dir}`, install)) ? dir : undefined;
}

let bundlerChecked = false;

async function checkConsumer(manager, dir) {
  for (const entry of entryPoints()) {
    await step(`${manager}: import ${entry}`, async () => {
      // The testing kit's peer is vitest, which a production consumer has not installed: resolve it only.
      const code = entry.endsWith("/testing") ? `import.meta.resolve(${JSON.stringify(entry)})` : `await import(${JSON.stringify(entry)})`;
      await run(process.execPath, ["--input-type=module", "-e", code], { cwd: dir, timeoutMs: 30_000 });
    });
  }

  await step(`${manager}: open the SQLite store`, async () => {
    const code = [
      `import { createSqliteStore } from "@portcullis/sqlite";`,
      `const store = createSqliteStore({ path: "opened.db" });`,
      `await store.set("check", { ok: true }, { ttlSeconds: 60 });`,
      `const value = await store.consume("check");`,
      `await store.close?.();`,
      `if (value?.ok !== true) throw new Error("read back " + JSON.stringify(value));`,
    ].join("\n");
    await run(process.execPath, ["--input-type=module", "-e", code], { cwd: dir, timeoutMs: 30_000 });
  });

  // nodenext also emits the JavaScript the run steps start. The bundler pass runs once, in the
  // first consumer: the layout changes nothing there that nodenext does not already resolve.
  const [typed] = await Promise.all([
    step(`${manager}: typecheck the snippets, module nodenext`, () => run(process.execPath, [TSC, "-p", "tsconfig.nodenext.json"], { cwd: dir })),
    bundlerChecked
      ? true
      : step(`${manager}: typecheck the snippets, moduleResolution bundler`, () => run(process.execPath, [TSC, "-p", "tsconfig.bundler.json"], { cwd: dir })),
  ]);
  bundlerChecked = true;
  if (!typed) return;

  for (const snippet of snippets) {
    const label = `${manager}: run ${snippet.kind} snippet (${snippet.source})`;
    if (snippet.kind === "types") continue;
    if (snippet.kind === "script") await step(label, () => runScript(dir, snippet));
    else if (snippet.kind === "worker") await step(label, () => runWorker(dir, snippet));
    else await step(label, () => runServer(dir, snippet));
  }
}

/**
 * Loaded before a script snippet: scripts run offline (the Fetch core answers `new Request(...)`
 * in process), so any outbound fetch or socket fails the snippet.
 */
const NO_NETWORK = `
import net from "node:net";
const refuse = (what) => { throw new Error("check:packages: a script snippet used the network (" + what + ")"); };
globalThis.fetch = async (input) => refuse("fetch " + String(input instanceof Request ? input.url : input));
net.Socket.prototype.connect = function () { refuse("socket"); };
`;

async function runScript(dir, snippet) {
  writeFileSync(join(dir, "no-network.mjs"), NO_NETWORK);
  const output = await run(process.execPath, ["--import", "./no-network.mjs", join("build", `${snippet.id}${snippet.out}`)], {
    cwd: dir,
    env: SNIPPET_ENV,
    timeoutMs: 30_000,
  });
  if (snippet.expect !== undefined && !output.includes(snippet.expect)) fail(`expected output containing ${JSON.stringify(snippet.expect)}, got:\n${output}`);
}

async function runServer(dir, snippet) {
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const child = spawn(process.execPath, [join("build", `${snippet.id}${snippet.out}`)], {
    cwd: dir,
    env: { ...process.env, ...SNIPPET_ENV, PORT: String(port), PUBLIC_URL: origin },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    await probeServer(`http://127.0.0.1:${port}`, origin, exited);
  } catch (error) {
    fail(`${error.message}\nserver output:\n${output}`);
  } finally {
    child.kill("SIGTERM");
    await Promise.race([exited, sleep(3000)]);
    child.kill("SIGKILL");
  }
}

async function runWorker(dir, snippet) {
  // Bundled as wrangler would (ESM, Web APIs only, workerd conditions); resolved from the
  // consumer's node_modules. esbuild and Miniflare are tools, taken from this repository.
  const { build } = await import(pathToFileHref(requireFromRoot.resolve("esbuild")));
  const { Miniflare } = await import(pathToFileHref(requireFromRoot.resolve("miniflare")));
  const bundle = await build({
    entryPoints: [join(dir, "snippets", `${snippet.id}${snippet.ext}`)],
    absWorkingDir: dir,
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["browser", "module", "main"],
    external: ["cloudflare:*"],
    logLevel: "silent",
  });
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const mf = new Miniflare({
    modules: true,
    script: bundle.outputFiles[0].text,
    compatibilityDate: "2025-09-01",
    host: "127.0.0.1",
    port,
    bindings: { ...SNIPPET_ENV, PUBLIC_URL: origin },
    durableObjects: { PORTCULLIS_STORE: { className: "PortcullisStorageObject", useSQLite: true } },
  });
  try {
    await mf.ready;
    await probeServer(`http://127.0.0.1:${port}`, origin, new Promise(() => {}));
  } finally {
    await mf.dispose();
  }
}

/** Metadata 200, registration 201, /mcp without a token 401 with `resource_metadata`. */
async function probeServer(base, origin, exited) {
  const deadline = Date.now() + 20_000;
  let metadata;
  for (;;) {
    const code = await Promise.race([exited, sleep(0).then(() => undefined)]);
    if (code !== undefined) fail(`the server exited with ${code} before answering`);
    try {
      metadata = await fetch(`${base}/.well-known/oauth-authorization-server`, { signal: AbortSignal.timeout(3000) });
      break;
    } catch {
      if (Date.now() > deadline) fail("the server did not answer within 20 s");
      await sleep(150);
    }
  }
  if (metadata.status !== 200) fail(`authorization server metadata: ${metadata.status} ${await metadata.text()}`);
  const as = await metadata.json();
  if (as.issuer !== origin) fail(`metadata issuer ${as.issuer}, expected ${origin} (PUBLIC_URL)`);

  const prm = await fetch(`${base}/.well-known/oauth-protected-resource/mcp`);
  if (prm.status !== 200) fail(`protected resource metadata: ${prm.status} ${await prm.text()}`);
  const resource = await prm.json();
  if (resource.resource !== `${origin}/mcp`) fail(`protected resource metadata names ${resource.resource}, expected ${origin}/mcp`);

  const registration = await fetch(new URL("/register", base), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      client_name: "check-packages",
      redirect_uris: ["http://127.0.0.1:33418/callback"],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    }),
  });
  if (registration.status !== 201) fail(`registration: ${registration.status} ${await registration.text()}`);
  const client = await registration.json();
  if (typeof client.client_id !== "string") fail(`registration answered no client_id: ${JSON.stringify(client)}`);

  const mcp = await fetch(`${base}/mcp`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  const challenge = mcp.headers.get("www-authenticate") ?? "";
  if (mcp.status !== 401) fail(`/mcp without a token: ${mcp.status}, expected 401`);
  if (!challenge.includes("resource_metadata=")) fail(`/mcp 401 without resource_metadata in WWW-Authenticate: ${challenge}`);
}

// Both installs at once: most of their time is better-sqlite3's install, one process each.
const managers = ["npm", "pnpm"].filter((manager) => !args.includes(`--skip-${manager}`));
const installed = await Promise.all(managers.map((manager) => installConsumer(manager)));
for (const [i, manager] of managers.entries()) if (installed[i]) await checkConsumer(manager, installed[i]);

// ---------------------------------------------------------------------------------------------

const failed = results.filter((r) => !r.ok);
console.log(`\ncheck:packages summary (${((Date.now() - started) / 1000).toFixed(0)} s)`);
for (const r of results) console.log(`  ${r.ok ? "PASS" : "FAIL"}  ${r.name}`);
console.log(`\n${results.length - failed.length} passed, ${failed.length} failed`);
if (keep || failed.length) console.log(`work directory: ${work}${keep ? "" : " (removed)"}`);
if (!keep) rmSync(work, { recursive: true, force: true });
process.exit(failed.length ? 1 : 0);
