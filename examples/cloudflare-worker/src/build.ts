import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = new URL("..", import.meta.url);

/** The compatibility date shared with wrangler.jsonc: keep the two equal. */
export const COMPATIBILITY_DATE = "2025-09-01";

/**
 * Bundles src/worker.ts for workerd as wrangler would: ESM, Web APIs only. `platform: "neutral"`
 * makes any Node built-in in the graph fail the build instead of needing `nodejs_compat`.
 * `entry` bundles another module Worker with the same settings (the benchmark's Worker without
 * Portcullis, so both sides of its ratio are built alike).
 */
export async function buildWorker(options: { minify?: boolean; entry?: string } = {}) {
  const result = await build({
    entryPoints: [options.entry ?? fileURLToPath(new URL("src/worker.ts", root))],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["portcullis:source", "workerd", "worker", "browser"],
    mainFields: ["browser", "module", "main"],
    external: ["cloudflare:*"],
    minify: options.minify ?? false,
    legalComments: "none",
    logLevel: "silent",
  });
  const code = result.outputFiles[0]!.text;
  const bytes = Buffer.byteLength(code);
  return { code, bytes, gzipBytes: gzipSync(code).length };
}

// `npm run build`: writes the minified bundle that wrangler.jsonc deploys and reports its size.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { code, bytes, gzipBytes } = await buildWorker({ minify: true });
  mkdirSync(new URL("build/", root), { recursive: true });
  writeFileSync(new URL("build/worker.js", root), code);
  console.log(`build/worker.js: ${(bytes / 1024).toFixed(1)} KiB minified, ${(gzipBytes / 1024).toFixed(1)} KiB gzipped`);
}
