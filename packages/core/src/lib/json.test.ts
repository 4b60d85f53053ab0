import { describe, expect, it } from "vitest";
import { isJSONTooDeep, MAX_JSON_DEPTH } from "./json.js";

describe("isJSONTooDeep", () => {
  it("counts arrays and objects, not brackets inside strings or after escaped quotes", () => {
    expect(isJSONTooDeep(`${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}`)).toBe(false);
    expect(isJSONTooDeep(`${"[".repeat(MAX_JSON_DEPTH + 1)}${"]".repeat(MAX_JSON_DEPTH + 1)}`)).toBe(true);
    expect(isJSONTooDeep(`{"a":{"b":{"c":1}}}`, 2)).toBe(true);
    expect(isJSONTooDeep(`{"a":{"b":1},"c":{"d":2}}`, 2)).toBe(false);
    expect(isJSONTooDeep(JSON.stringify({ s: "[[[[{{{{" }), 1)).toBe(false);
    expect(isJSONTooDeep(JSON.stringify({ s: 'quote \\" [[[[ \\\\' }), 1)).toBe(false);
    expect(isJSONTooDeep(`{"s":"\\\\","t":[[[]]]}`, 2)).toBe(true);
  });
});
