#!/usr/bin/env node
// The `portcullis` command. A published package runs its compiled `dist/cli.js`. In a checkout of
// the repository, where nothing needs building, it runs the TypeScript source through tsx, also
// when a build exists but the sources changed since.
import { existsSync, readdirSync, statSync } from "node:fs";

const compiled = new URL("../dist/cli.js", import.meta.url);
const sources = new URL("../src/", import.meta.url);

function sourcesNewerThanBuild() {
  if (!existsSync(compiled)) return true;
  if (!existsSync(sources)) return false;
  const built = statSync(compiled).mtimeMs;
  return readdirSync(sources).some((name) => name.endsWith(".ts") && statSync(new URL(name, sources)).mtimeMs > built);
}

let entry = compiled;
if (sourcesNewerThanBuild()) {
  try {
    const { register } = await import("tsx/esm/api");
    register();
    entry = new URL("../src/cli.ts", import.meta.url);
  } catch {
    if (!existsSync(compiled)) {
      console.error("portcullis: dist/ is missing and tsx is not installed: run `npm run build` first");
      process.exit(2);
    }
  }
}
const { main } = await import(entry.href);
process.exit(await main(process.argv.slice(2)));
