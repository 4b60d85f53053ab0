import { describe, expect, it } from "vitest";
import { jsonResponse } from "./responses.js";

describe("JSON responses", () => {
  it("always say application/json, and no-store replaces a Cache-Control given in any spelling", async () => {
    const response = jsonResponse(
      { ok: true },
      { status: 201, noStore: true, headers: { "content-type": "text/plain", "cache-control": "max-age=60", Pragma: "no-cache" } },
    );
    expect(response.status).toBe(201);
    expect(response.headers.get("Content-Type")).toBe("application/json");
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(response.headers.get("Pragma")).toBe("no-cache");
    expect(await response.json()).toEqual({ ok: true });
  });

  it("keep a caller's Cache-Control when the response is not marked no-store", () => {
    const response = jsonResponse({ keys: [] }, { headers: { "Cache-Control": "public, max-age=600" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("public, max-age=600");
  });
});
