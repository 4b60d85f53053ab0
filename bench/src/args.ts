/** The command line of `npm run bench` (`src/run.ts`), parsed strictly: a typo is an error, never a silent full run. */
export interface BenchArgs {
  quick: boolean;
  only?: string[];
  out?: string;
  load?: "wrk" | "autocannon";
  cpuProfile: boolean;
}

const FLAGS = new Set(["--quick", "--cpu-prof"]);
const VALUED = new Set(["--only", "--out", "--load"]);

/**
 * Parses the harness's arguments, as forwarded by `npm run bench -- ...` from the root.
 *
 * @param args The arguments after the script (`process.argv.slice(2)`).
 * @param knownIds The scenario ids `--only` may name.
 * @returns The settings, or an error message naming what was not understood.
 */
export function parseBenchArgs(args: readonly string[], knownIds: readonly string[]): BenchArgs | { error: string } {
  const parsed: BenchArgs = { quick: false, cpuProfile: false };
  for (const arg of args) {
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const value = eq === -1 ? undefined : arg.slice(eq + 1);
    if (FLAGS.has(name)) {
      if (value !== undefined) return { error: `${name} takes no value` };
      if (name === "--quick") parsed.quick = true;
      else parsed.cpuProfile = true;
    } else if (VALUED.has(name)) {
      if (!value) return { error: `${name} needs a value: ${name}=...` };
      if (name === "--only") {
        const ids = value.split(",").filter(Boolean);
        // A jose-* id selects the jose sign/verify figures, as before.
        const unknown = ids.filter((id) => !knownIds.includes(id) && !id.startsWith("jose"));
        if (unknown.length > 0) return { error: `unknown scenario id(s) for --only: ${unknown.join(", ")}; known: ${knownIds.join(", ")}` };
        parsed.only = ids;
      } else if (name === "--load") {
        if (value !== "wrk" && value !== "autocannon") return { error: "--load takes wrk or autocannon" };
        parsed.load = value;
      } else parsed.out = value;
    } else {
      return { error: `unknown argument ${arg}; use --quick, --only=id,id, --out=dir, --load=wrk|autocannon, --cpu-prof` };
    }
  }
  return parsed;
}
