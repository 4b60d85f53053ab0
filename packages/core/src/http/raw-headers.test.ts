import { describe, expect, it } from "vitest";
import { rawHeaders } from "./raw-headers.js";

describe("rawHeaders: Node's raw header list read as Headers#get reads a Fetch Headers", () => {
  const raw = ["Host", "127.0.0.1:8787", "authorization", "Bearer a", "X-Empty", "", "AUTHORIZATION", "Bearer b", ":authority", "evil.example"];

  it("matches names case-insensitively and joins repeated headers with ', ', as Headers does", () => {
    const headers = rawHeaders(raw);
    const fetchHeaders = new Headers();
    for (let i = 0; i < raw.length; i += 2) if (!raw[i]!.startsWith(":")) fetchHeaders.append(raw[i]!, raw[i + 1]!);
    for (const name of ["host", "HOST", "Authorization", "x-empty", "Origin"]) expect(headers.get(name)).toBe(fetchHeaders.get(name));
    expect(headers.get("Authorization")).toBe("Bearer a, Bearer b");
  });

  it("answers null for a missing header and never matches a pseudo-header by its bare name", () => {
    const headers = rawHeaders(raw);
    expect(headers.get("Origin")).toBeNull();
    expect(headers.get("authority")).toBeNull();
    expect(rawHeaders([]).get("Host")).toBeNull();
    // An odd-length list (never produced by Node) ignores the dangling name.
    expect(rawHeaders(["Host"]).get("Host")).toBeNull();
  });
});
