import { describe, expect, it } from "vitest";
import { pathOf } from "./url.js";

describe("pathOf (routing without a second URL parse)", () => {
  it.each([
    "https://as.test/token",
    "https://as.test/",
    "https://as.test",
    "https://as.test/a/b?x=1&y=/z",
    "https://as.test/a#frag/x",
    "https://as.test/a?q#f",
    "http://[::1]:8787/mcp?x",
    "http://127.0.0.1:1/.well-known/oauth-protected-resource/mcp",
    "https://as.test/%2e%2e/etc/passwd",
    "https://as.test/a/../b",
  ])("agrees with the URL parser on what a Request serialised: %s", (raw) => {
    const url = new Request(raw).url;
    expect(pathOf(url)).toBe(new URL(url).pathname);
  });
});
