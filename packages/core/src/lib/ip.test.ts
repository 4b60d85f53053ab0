import { describe, expect, it } from "vitest";
import { isSpecialUseAddress, parseIPv4, parseIPv6, SPECIAL_IPV4_BLOCKS, SPECIAL_IPV6_BLOCKS, specialBlockOf } from "./ip.js";

/** The first and the last address of a block, as text. */
function ends(prefix: string): [string, string] {
  const [address, bitsText] = prefix.split("/");
  const bits = Number(bitsText);
  const v4 = parseIPv4(address!);
  const bytes = v4 ?? parseIPv6(address!)!;
  const last = bytes.map((b, i) => {
    const netBits = Math.max(0, Math.min(8, bits - i * 8));
    return b | (0xff >> netBits);
  });
  const format = (b: number[]) => (v4 ? b.join(".") : Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16)).join(":"));
  return [format(bytes), format(last)];
}

describe("Special-use address check for outbound fetches (AS-CIMD-3)", () => {
  it.each(SPECIAL_IPV4_BLOCKS.filter((b) => b.embedsIPv4 === undefined))("audit #6: refuses IPv4 $prefix ($name, $rfc), first and last address", (block) => {
    for (const address of ends(block.prefix)) expect(isSpecialUseAddress(address), address).toBe(true);
  });

  it.each(SPECIAL_IPV6_BLOCKS.filter((b) => b.embedsIPv4 === undefined))("audit #6: refuses IPv6 $prefix ($name, $rfc), first and last address", (block) => {
    for (const address of ends(block.prefix)) expect(isSpecialUseAddress(address), address).toBe(true);
    expect(isSpecialUseAddress(`[${ends(block.prefix)[0]}]`)).toBe(true);
  });

  const embedding = (prefix: string, v4: string) => {
    const bytes = parseIPv6(prefix.split("/")[0]!)!;
    const offset = SPECIAL_IPV6_BLOCKS.find((b) => b.prefix === prefix)!.embedsIPv4!;
    bytes.splice(offset, 4, ...parseIPv4(v4)!);
    return Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16)).join(":");
  };
  it.each(SPECIAL_IPV6_BLOCKS.filter((b) => b.embedsIPv4 !== undefined))(
    "audit #6: judges IPv6 $prefix ($name, $rfc) by the IPv4 address it carries",
    (block) => {
      for (const inner of ["127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.0.1", "100.64.0.1", "0.0.0.0", "255.255.255.255"]) {
        expect(isSpecialUseAddress(embedding(block.prefix, inner)), `${block.prefix} carrying ${inner}`).toBe(true);
      }
      expect(isSpecialUseAddress(embedding(block.prefix, "8.8.8.8"))).toBe(false);
    },
  );

  it("names the registry row an address falls in", () => {
    expect(specialBlockOf("64:ff9b:1::a00:1")).toMatchObject({ prefix: "64:ff9b:1::/48", rfc: "RFC 8215" });
    expect(specialBlockOf("::ffff:169.254.169.254")).toMatchObject({ prefix: "169.254.0.0/16" });
    expect(specialBlockOf("2001:2::1")).toMatchObject({ prefix: "2001::/23" });
    expect(specialBlockOf("93.184.216.34")).toBeUndefined();
  });

  it.each([
    "127.0.0.1",
    "10.0.0.5",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "198.18.0.1",
    "192.0.0.192",
    "100.100.100.200",
    "::1",
    "::",
    "[::1]",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fe80::1%eth0",
    "ff02::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",
    "[::ffff:169.254.169.254]",
    "::ffff:a9fe:a9fe",
    "::ffff:10.0.0.1",
    "64:ff9b::10.0.0.1",
    "2002:7f00:1::1",
    "64:ff9b:1::8.8.8.8",
    "::8.8.8.8",
    "2001:2::8.8.8.8",
    "4000::1",
    "1000::1",
    "not-an-ip",
    "1.2.3",
    "1.2.3.256",
    "",
  ])("refuses %s", (address) => {
    expect(isSpecialUseAddress(address)).toBe(true);
  });

  it.each([
    "8.8.8.8",
    "1.1.1.1",
    "172.32.0.1",
    "100.128.0.1",
    "192.0.3.1",
    "198.20.0.1",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "[2a00:1450:4001::200e]",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2002:808:808::1",
    "2001:200::1",
  ])("allows public %s", (address) => {
    expect(isSpecialUseAddress(address)).toBe(false);
  });

  it("parses compressed and mixed IPv6 notation", () => {
    expect(parseIPv6("::ffff:1.2.3.4")).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]);
    expect(parseIPv6("1::")).toEqual([0, 1, ...Array(14).fill(0)]);
    expect(parseIPv6("1:2:3:4:5:6:7:8:9")).toBeUndefined();
    expect(parseIPv6("1::2::3")).toBeUndefined();
  });
});
