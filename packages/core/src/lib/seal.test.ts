import { describe, expect, it } from "vitest";
import { createSealer } from "./seal.js";

const key = (fill: number) => new Uint8Array(32).fill(fill);

describe("Sealing upstream tokens at rest (AES-256-GCM)", () => {
  const sealer = createSealer(new Map([["k1", key(1)]]), "k1");

  it("opens what it sealed, in the same context only, and never shows the plaintext", async () => {
    const sealed = await sealer.seal({ accessToken: "secret-access-token" }, "grant-1");
    expect(sealed.kid).toBe("k1");
    expect(JSON.stringify(sealed)).not.toContain("secret-access-token");
    expect(await sealer.open(sealed, "grant-1")).toEqual({ accessToken: "secret-access-token" });
    // Moved to another grant's record, it opens to nothing.
    expect(await sealer.open(sealed, "grant-2")).toBeUndefined();
  });

  it("opens nothing once the record is altered, under an unknown key id, or when malformed", async () => {
    const sealed = await sealer.seal({ a: 1 }, "g");
    const flipped = sealed.data.slice(0, 20) + (sealed.data[20] === "A" ? "B" : "A") + sealed.data.slice(21);
    expect(await sealer.open({ ...sealed, data: flipped }, "g")).toBeUndefined();
    expect(await sealer.open({ ...sealed, kid: "k9" }, "g")).toBeUndefined();
    expect(await sealer.open({ kid: "k1", data: "!!" }, "g")).toBeUndefined();
    expect(await sealer.open(null as never, "g")).toBeUndefined();
  });

  it("uses a fresh IV each time, and a rotated key list still opens old records", async () => {
    const [a, b] = await Promise.all([sealer.seal({ a: 1 }, "g"), sealer.seal({ a: 1 }, "g")]);
    expect(a.data).not.toBe(b.data);
    const rotated = createSealer(
      new Map([
        ["k2", key(2)],
        ["k1", key(1)],
      ]),
      "k2",
    );
    expect(await rotated.open(a, "g")).toEqual({ a: 1 });
    expect((await rotated.seal({ a: 1 }, "g")).kid).toBe("k2");
    expect(await sealer.open(await rotated.seal({ a: 1 }, "g"), "g")).toBeUndefined();
  });
});
