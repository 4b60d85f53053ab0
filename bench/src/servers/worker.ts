/**
 * The Cloudflare Worker example as deployed: its built bundle (examples/cloudflare-worker/build/
 * worker.js, written by its `npm run build`, which the harness runs first) served by workerd
 * through Miniflare, configured as the example's src/serve.ts does (Durable Object store in
 * memory), on a loopback port. A smoke figure only: workerd under Miniflare on this machine says
 * little about Cloudflare's edge.
 *
 * argv[2]: {} (no options).
 *
 * Fixture: one access token from a real sign-in over HTTP against the Worker (dynamic client
 * registration, the consent page with the demo user's password, the code exchange with PKCE).
 * The report's RSS is workerd's, not this Node process's.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Miniflare as MiniflareClass } from "miniflare";
import { argConfig, fail, onStop, reportReady } from "./common.js";

argConfig<Record<string, never>>();
const EXAMPLE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "examples", "cloudflare-worker");
const BUNDLE = join(EXAMPLE_DIR, "build", "worker.js");
const USER = { username: "bench", password: randomBytes(12).toString("base64url") };
const REDIRECT_URI = "http://127.0.0.1:33418/callback";

if (!existsSync(BUNDLE)) fail(`${BUNDLE} does not exist: run \`npm run build\` in examples/cloudflare-worker`);
// The compatibility date the deployment uses (wrangler.jsonc; src/build.ts keeps the same one).
const compatibilityDate =
  /"compatibility_date"\s*:\s*"([^"]+)"/.exec(readFileSync(join(EXAMPLE_DIR, "wrangler.jsonc"), "utf8"))?.[1] ?? fail("no compatibility_date in wrangler.jsonc");
// The example's own Miniflare (pinned in its package.json), resolved from the example.
const miniflareEntry = createRequire(join(EXAMPLE_DIR, "package.json")).resolve("miniflare");
const { Miniflare } = (await import(pathToFileURL(miniflareEntry).href)) as { Miniflare: typeof MiniflareClass };

// PUBLIC_URL must name the port before the Worker starts: take a free one.
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const mf = new Miniflare({
  modules: true,
  script: readFileSync(BUNDLE, "utf8"),
  compatibilityDate,
  host: "127.0.0.1",
  port,
  bindings: { PUBLIC_URL: base, DEMO_USERNAME: USER.username, DEMO_PASSWORD: USER.password },
  durableObjects: { PORTCULLIS_STORE: { className: "PortcullisStorageObject", useSQLite: true } },
});
onStop(() => mf.dispose());
await mf.ready;

const token = await signIn();
await reportReady({ port, token, rssPid: workerdPid() ?? fail("found no workerd process under this one") });

/** A public client's sign-in, as an MCP client and a user at the consent page would do it. */
async function signIn(): Promise<string> {
  const registration = await fetch(`${base}/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"], client_name: "bench" }),
  });
  if (registration.status !== 201) fail(`registration answered ${registration.status}: ${await registration.text()}`);
  const { client_id } = (await registration.json()) as { client_id: string };

  const verifier = randomBytes(32).toString("base64url");
  const authorize = new URL(`${base}/authorize`);
  authorize.search = new URLSearchParams({
    response_type: "code",
    client_id,
    redirect_uri: REDIRECT_URI,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    scope: "mcp:tools",
    state: "bench",
    resource: `${base}/mcp`,
  }).toString();
  const page = await fetch(authorize, { redirect: "manual" });
  const html = await page.text();
  if (page.status !== 200) fail(`the authorization page answered ${page.status}: ${html.slice(0, 300)}`);
  const field = (name: string) => new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1] ?? "";
  const decided = await fetch(`${base}/authorize/consent`, {
    method: "POST",
    redirect: "manual",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: page.headers.get("Set-Cookie")?.split(";")[0] ?? "" },
    body: new URLSearchParams({ request_id: field("request_id"), csrf_token: field("csrf_token"), ...USER, decision: "allow" }),
  });
  const location = decided.headers.get("Location");
  const code = location ? new URL(location).searchParams.get("code") : null;
  if (!code) fail(`consent gave no code (${decided.status}): ${location ?? (await decided.text()).slice(0, 300)}`);

  const exchange = await fetch(`${base}/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, code_verifier: verifier, client_id, redirect_uri: REDIRECT_URI, resource: `${base}/mcp` }),
  });
  const tokens = (await exchange.json()) as { access_token?: string };
  if (exchange.status !== 200 || !tokens.access_token) fail(`the code exchange answered ${exchange.status}: ${JSON.stringify(tokens)}`);
  return tokens.access_token;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The workerd process Miniflare started: a descendant of this one. */
function workerdPid(): number | undefined {
  const queue = [process.pid];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    let children: number[] = [];
    try {
      children = readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
        readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ").filter(Boolean).map(Number),
      );
    } catch {
      continue;
    }
    for (const child of children) {
      try {
        if (readFileSync(`/proc/${child}/comm`, "utf8").trim() === "workerd") return child;
      } catch {
        continue;
      }
      queue.push(child);
    }
  }
  return undefined;
}
