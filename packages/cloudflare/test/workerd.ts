import { build } from "esbuild";
import { Miniflare, type MiniflareOptions } from "miniflare";

/** Bundles a Worker entry for workerd (TypeScript sources of the workspace, no Node built-ins). */
export async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["portcullis:source", "workerd", "worker", "browser"],
    mainFields: ["browser", "module", "main"],
    external: ["cloudflare:*"],
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

/** Starts workerd with one module Worker. */
export async function startWorkerd(script: string, options: Partial<MiniflareOptions> = {}) {
  const mf = new Miniflare({
    modules: true,
    script,
    compatibilityDate: "2025-09-01",
    host: "127.0.0.1",
    port: 0,
    ...options,
  } as MiniflareOptions);
  const url = await mf.ready;
  return { mf, url };
}
