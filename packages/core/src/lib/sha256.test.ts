import { describe, expect, it } from "vitest";
import { sha256Digest } from "./sha256.js";

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const randomBytes = (length: number) => crypto.getRandomValues(new Uint8Array(length));

// Known answers pin the wrapper (string encoding, output shape); the algorithm is @noble/hashes'.
describe("SHA-256 (FIPS 180-4)", () => {
  // FIPS 180-4 examples (NIST CSRC "SHA256.pdf", "SHA2_Additional.pdf").
  it.each([
    ["the empty message", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
    ['"abc" (one block)', "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    [
      "the 448-bit message (padding spills into a second block)",
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ],
    [
      "the 896-bit message",
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
    ],
  ])("hashes %s", (_name, message, digest) => {
    expect(hex(sha256Digest(message))).toBe(digest);
  });

  it("hashes one million repetitions of 'a'", () => {
    expect(hex(sha256Digest("a".repeat(1_000_000)))).toBe("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  });

  it("hashes a string as its UTF-8 bytes, astral code points included", () => {
    const text = "héllo wörld 🙂 ünïcødé";
    expect(hex(sha256Digest(text))).toBe("6153df2a3eb0e4ba489cc41a44f25e67cd72dc378720054f4caca8262c5468f0");
    expect(sha256Digest(text)).toEqual(sha256Digest(new TextEncoder().encode(text)));
  });

  it("does not alter its input and returns a fresh array each call", () => {
    const input = randomBytes(100);
    const copy = input.slice();
    const first = sha256Digest(input);
    const second = sha256Digest("other");
    expect(input).toEqual(copy);
    expect(sha256Digest(input)).toEqual(first);
    expect(first).not.toEqual(second);
  });
});
