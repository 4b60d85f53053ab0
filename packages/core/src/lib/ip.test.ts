import { describe, expect, it } from "vitest";
import { isSpecialUseAddress, parseIPv6 } from "./ip.js";

describe("Special-use address check for outbound fetches (AS-CIMD-3)", () => {
  it.each([
    "127.0.0.1", "10.0.0.5", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1",
    "::1", "::", "[::1]", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "[::ffff:169.254.169.254]", "::ffff:a9fe:a9fe", "::ffff:10.0.0.1", "64:ff9b::10.0.0.1", "2002:7f00:1::1",
    "not-an-ip", "1.2.3", "1.2.3.256",
  ])("refuses %s", (address) => {
    expect(isSpecialUseAddress(address)).toBe(true);
  });

  it.each(["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8"])("allows public %s", (address) => {
    expect(isSpecialUseAddress(address)).toBe(false);
  });

  it("parses compressed and mixed IPv6 notation", () => {
    expect(parseIPv6("::ffff:1.2.3.4")).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]);
    expect(parseIPv6("1::")).toEqual([0, 1, ...Array(14).fill(0)]);
    expect(parseIPv6("1:2:3:4:5:6:7:8:9")).toBeUndefined();
    expect(parseIPv6("1::2::3")).toBeUndefined();
  });
});
