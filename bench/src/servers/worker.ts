/**
 * The Cloudflare Worker example as deployed: its built bundle (examples/cloudflare-worker/build/
 * worker.js, written by its `npm run build`, which the harness runs first) served by workerd
 * through Miniflare, configured as the example's src/serve.ts does (Durable Object store in
 * memory), on a loopback port. workerd under Miniflare on this machine says little about
 * Cloudflare's edge; the figure that carries is the ratio against the same Worker unguarded.
 *
 * argv[2]: {"guard"?: false}. With `guard: false`, the unguarded side instead: unguarded-worker.ts
 * (the example's MCP work with no Portcullis in front), bundled by the example's own build
 * function with the same settings, minified as `npm run build` does, and served the same way.
 *
 * Fixture (guarded): one access token from a real sign-in over HTTP against the Worker (dynamic
 * client registration, the consent page with the demo user's password, the code exchange with
 * PKCE). The report's RSS is workerd's, not this Node process's.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Miniflare as MiniflareClass } from "miniflare";
import { authorize, registerClient, tokenRequest } from "@portcullis/example-shared/http-flow";
import { argConfig, fail, onStop, reportReady } from "./common.js";

const { guard = true } = argConfig<{ guard?: boolean }>();
const EXAMPLE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "examples", "cloudflare-worker");
const BUNDLE = join(EXAMPLE_DIR, "build", "worker.js");
const USER = { username: "bench", password: randomBytes(12).toString("base64url") };
const REDIRECT_URI = "http://127.0.0.1:33418/callback";

if (guard && !existsSync(BUNDLE)) fail(`${BUNDLE} does not exist: run \`npm run build\` in examples/cloudflare-worker`);
// The compatibility date the deployment uses (wrangler.jsonc; src/build.ts keeps the same one).
const compatibilityDate =
  /"compatibility_date"\s*:\s*"([^"]+)"/.exec(readFileSync(join(EXAMPLE_DIR, "wrangler.jsonc"), "utf8"))?.[1] ??
  fail("no compatibility_date in wrangler.jsonc");
// The example's own Miniflare (pinned in its package.json), resolved from the example.
const miniflareEntry = createRequire(join(EXAMPLE_DIR, "package.json")).resolve("miniflare");
const { Miniflare } = (await import(pathToFileURL(miniflareEntry).href)) as { Miniflare: typeof MiniflareClass };

// PUBLIC_URL must name the port before the Worker starts: take a free one.
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const mf = new Miniflare({
  modules: true,
  compatibilityDate,
  host: "127.0.0.1",
  port,
  ...(guard
    ? {
        script: readFileSync(BUNDLE, "utf8"),
        bindings: { PUBLIC_URL: base, DEMO_USERNAME: USER.username, DEMO_PASSWORD: USER.password },
        durableObjects: { PORTCULLIS_STORE: { className: "PortcullisStorageObject", useSQLite: true } },
      }
    : { script: await unguardedBundle() }),
});
onStop(() => mf.dispose());
await mf.ready;

const token = guard ? await signIn() : undefined;
await reportReady({ port, ...(token ? { token } : {}), rssPid: workerdPid() ?? fail("found no workerd process under this one") });

/** unguarded-worker.ts, bundled by the example's build function (src/build.ts), minified. */
async function unguardedBundle(): Promise<string> {
  type Build = (options: { minify?: boolean; entry?: string }) => Promise<{ code: string }>;
  const { buildWorker } = (await import(pathToFileURL(join(EXAMPLE_DIR, "src", "build.ts")).href)) as { buildWorker: Build };
  const { code } = await buildWorker({ minify: true, entry: fileURLToPath(new URL("unguarded-worker.ts", import.meta.url)) });
  return code;
}

/** A public client's sign-in, as an MCP client and a user at the consent page would do it. */
async function signIn(): Promise<string> {
  const client = await registerClient(base, REDIRECT_URI);
  const { code, verifier } = await authorize(base, client, USER);
  const exchange = await tokenRequest(base, {
    grant_type: "authorization_code",
    code,
    code_verifier: verifier,
    client_id: client.clientId,
    redirect_uri: REDIRECT_URI,
    resource: `${base}/mcp`,
  });
  if (exchange.status !== 200 || !exchange.body.access_token) fail(`the code exchange answered ${exchange.status}: ${JSON.stringify(exchange.body)}`);
  return exchange.body.access_token;
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
