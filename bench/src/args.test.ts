import { describe, expect, it } from "vitest";
import { parseBenchArgs } from "./args.js";

const ids = ["bare-hono", "hono-memory-reused"];

describe("bench arguments", () => {
  it("reads the flags npm run bench -- ... forwards", () => {
    expect(parseBenchArgs(["--quick", "--only=bare-hono,hono-memory-reused", "--out=/tmp/x", "--load=wrk", "--cpu-prof"], ids)).toEqual({
      quick: true,
      only: ["bare-hono", "hono-memory-reused"],
      out: "/tmp/x",
      load: "wrk",
      cpuProfile: true,
    });
    expect(parseBenchArgs([], ids)).toEqual({ quick: false, cpuProfile: false });
    expect(parseBenchArgs(["--only=jose"], ids)).toMatchObject({ only: ["jose"] });
  });

  it("refuses an unknown flag, an unknown scenario id or a missing value rather than running something else", () => {
    expect(parseBenchArgs(["--qiuck"], ids)).toEqual({ error: expect.stringContaining("unknown argument --qiuck") });
    expect(parseBenchArgs(["--only=hono-memory-reuse"], ids)).toEqual({ error: expect.stringContaining("hono-memory-reuse") });
    expect(parseBenchArgs(["--only="], ids)).toEqual({ error: expect.stringContaining("needs a value") });
    expect(parseBenchArgs(["--load=ab"], ids)).toEqual({ error: expect.stringContaining("wrk or autocannon") });
    expect(parseBenchArgs(["--quick=1"], ids)).toEqual({ error: expect.stringContaining("takes no value") });
  });
});
