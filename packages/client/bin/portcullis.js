#!/usr/bin/env node
// The `portcullis` command. A published package runs its compiled `dist/cli.js`; in a checkout
// of the repository, where nothing is built, it runs the TypeScript source through tsx.
import { existsSync } from "node:fs";

const compiled = new URL("../dist/cli.js", import.meta.url);
if (existsSync(compiled)) {
  const { main } = await import(compiled.href);
  process.exit(await main(process.argv.slice(2)));
} else {
  let register;
  try {
    ({ register } = await import("tsx/esm/api"));
  } catch {
    console.error("portcullis: dist/ is missing and tsx is not installed: run `npm run build` first");
    process.exit(2);
  }
  register();
  const { main } = await import(new URL("../src/cli.ts", import.meta.url).href);
  process.exit(await main(process.argv.slice(2)));
}
