import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll } from "vitest";
import { describeSocketProperties, type FuzzInput, type PropertyContext } from "../../core/test/security/fuzz/harness.js";
import { REDIRECT_URIS } from "../../core/test/security/fuzz/target.js";
import { bundle, startWorkerd } from "./workerd.js";

// withPortcullis in workerd, over a real socket to workerd's own HTTP server.
let mf: Miniflare;
let port: number;
let validToken: string;
let context: PropertyContext;

/** A free port, so the issuer can name it before workerd starts. */
const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

/**
 * What reaches a Worker at all. workerd answers a Host that makes no URL with its own 500 before
 * any Worker code runs, as it does (501) for a method it does not know; and it decodes the framing
 * itself (its dev server may drop the answer to a chunked body the Worker left unread), so the
 * Worker sees every body with its true length. Header values are ASCII: workerd refuses others
 * with its own 400.
 */
const WORKERD_METHODS = new Set(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "PROPFIND"]);
const forWorkerd = (input: FuzzInput): FuzzInput => ({
  ...input,
  method: WORKERD_METHODS.has(input.method) ? input.method : "POST",
  framing: "length",
  headers: input.headers.filter(([name, value]) => /^[\x20-\x7e]*$/.test(value) && (!/^host$/i.test(name) || URL.canParse(`http://${value}/`))),
});
/** workerd's dev server may reset the connection, answer lost, when a Worker leaves a large body unread. */
const mayDrop = (input: FuzzInput) => (input.body?.length ?? 0) > 65_536;

beforeAll(async () => {
  port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const script = await bundle(fileURLToPath(new URL("./fuzz-worker.ts", import.meta.url)));
  ({ mf } = await startWorkerd(script, { port, bindings: { ISSUER: origin } }));
  validToken = ((await (await fetch(`${origin}/__fuzz/mint`)).json()) as { token: string }).token;
  context = { origin, validToken, redirectUris: REDIRECT_URIS };
}, 60_000);
afterAll(async () => {
  await mf?.dispose();
});

describeSocketProperties(
  "withPortcullis in workerd",
  async () => ({ port, validToken, context, close: async () => {} }),
  { name: "workerd", runs: 100 },
  { prepare: forWorkerd, mayDrop },
);
