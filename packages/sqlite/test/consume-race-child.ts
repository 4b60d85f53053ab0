// A separate process for the multi-process test in src/store.test.ts: opens the shared file,
// says "ready", waits for "go" on stdin, then tries to consume every key and prints those it won.
import { createInterface } from "node:readline";
import { createSqliteStore } from "../src/index.js";

const [path, count] = process.argv.slice(2);
const store = createSqliteStore({ path: path!, sweepIntervalSeconds: 0 });
const lines = createInterface({ input: process.stdin });
process.stdout.write("ready\n");
for await (const line of lines) {
  if (line !== "go") continue;
  const won: number[] = [];
  for (let i = 0; i < Number(count); i++) {
    if ((await store.consume(`race:${i}`)) !== undefined) won.push(i);
  }
  process.stdout.write(`${JSON.stringify(won)}\n`);
  break;
}
lines.close();
await store.close?.();
