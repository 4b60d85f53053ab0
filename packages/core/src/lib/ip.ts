/** Parses a dotted-quad IPv4 address into its four bytes, or undefined. */
export function parseIPv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : Number.NaN));
  return bytes.every((b) => b >= 0 && b <= 255) ? bytes : undefined;
}

/** Parses an IPv6 address (no brackets, no zone) into its 16 bytes, or undefined. */
export function parseIPv6(text: string): number[] | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length > 45) return undefined;
  let hex = text;
  if (text.includes(".")) {
    // A trailing dotted quad (::ffff:1.2.3.4) is two more 16-bit groups.
    const colon = text.lastIndexOf(":");
    const v4 = parseIPv4(text.slice(colon + 1));
    if (!v4) return undefined;
    hex = `${text.slice(0, colon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = hex.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string) => (s === "" ? [] : s.split(":"));
  const left = groupsOf(halves[0]!);
  const right = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...left, ...Array<string>(missing).fill("0"), ...right];
  if (groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

/**
 * One row of a special-purpose address table. `embedsIPv4` gives the byte offset of an IPv4
 * address the block carries: such an address is judged by that IPv4 address instead.
 */
export interface SpecialBlock {
  prefix: string;
  name: string;
  rfc: string;
  embedsIPv4?: number;
}

/**
 * The IANA IPv4 Special-Purpose Address Registry (RFC 6890), with multicast (RFC 5771) added:
 * no address in these blocks is fetched, whether the registry calls it globally reachable or not.
 * @see https://www.iana.org/assignments/iana-ipv4-special-registry/
 */
export const SPECIAL_IPV4_BLOCKS: readonly SpecialBlock[] = [
  { prefix: "0.0.0.0/8", name: "This network", rfc: "RFC 791" },
  { prefix: "10.0.0.0/8", name: "Private-Use", rfc: "RFC 1918" },
  { prefix: "100.64.0.0/10", name: "Shared Address Space", rfc: "RFC 6598" },
  { prefix: "127.0.0.0/8", name: "Loopback", rfc: "RFC 1122" },
  { prefix: "169.254.0.0/16", name: "Link Local", rfc: "RFC 3927" },
  { prefix: "172.16.0.0/12", name: "Private-Use", rfc: "RFC 1918" },
  { prefix: "192.0.0.0/24", name: "IETF Protocol Assignments", rfc: "RFC 6890" },
  { prefix: "192.0.2.0/24", name: "Documentation (TEST-NET-1)", rfc: "RFC 5737" },
  { prefix: "192.31.196.0/24", name: "AS112-v4", rfc: "RFC 7535" },
  { prefix: "192.52.193.0/24", name: "AMT", rfc: "RFC 7450" },
  { prefix: "192.88.99.0/24", name: "Deprecated (6to4 Relay Anycast)", rfc: "RFC 7526" },
  { prefix: "192.168.0.0/16", name: "Private-Use", rfc: "RFC 1918" },
  { prefix: "192.175.48.0/24", name: "Direct Delegation AS112 Service", rfc: "RFC 7534" },
  { prefix: "198.18.0.0/15", name: "Benchmarking", rfc: "RFC 2544" },
  { prefix: "198.51.100.0/24", name: "Documentation (TEST-NET-2)", rfc: "RFC 5737" },
  { prefix: "203.0.113.0/24", name: "Documentation (TEST-NET-3)", rfc: "RFC 5737" },
  { prefix: "224.0.0.0/4", name: "Multicast", rfc: "RFC 5771" },
  { prefix: "240.0.0.0/4", name: "Reserved", rfc: "RFC 1112" },
  { prefix: "255.255.255.255/32", name: "Limited Broadcast", rfc: "RFC 919" },
];

/**
 * The IANA IPv6 Special-Purpose Address Registry (RFC 6890), with multicast, site-local and the
 * deprecated IPv4-compatible block added. Any address outside 2000::/3 that no row admits is
 * refused as well: global unicast lives there alone (RFC 4291 §2.4).
 * @see https://www.iana.org/assignments/iana-ipv6-special-registry/
 */
export const SPECIAL_IPV6_BLOCKS: readonly SpecialBlock[] = [
  { prefix: "::1/128", name: "Loopback Address", rfc: "RFC 4291" },
  { prefix: "::/128", name: "Unspecified Address", rfc: "RFC 4291" },
  { prefix: "::/96", name: "IPv4-compatible (deprecated)", rfc: "RFC 4291" },
  { prefix: "::ffff:0:0/96", name: "IPv4-mapped Address", rfc: "RFC 4291", embedsIPv4: 12 },
  { prefix: "64:ff9b::/96", name: "IPv4-IPv6 Translat.", rfc: "RFC 6052", embedsIPv4: 12 },
  { prefix: "64:ff9b:1::/48", name: "IPv4-IPv6 Translat. (local use)", rfc: "RFC 8215" },
  { prefix: "100::/64", name: "Discard-Only Address Block", rfc: "RFC 6666" },
  { prefix: "100:0:0:1::/64", name: "Dummy IPv6 Prefix", rfc: "RFC 9780" },
  { prefix: "2001::/23", name: "IETF Protocol Assignments", rfc: "RFC 2928" },
  { prefix: "2001::/32", name: "TEREDO", rfc: "RFC 4380" },
  { prefix: "2001:2::/48", name: "Benchmarking", rfc: "RFC 5180" },
  { prefix: "2001:3::/32", name: "AMT", rfc: "RFC 7450" },
  { prefix: "2001:4:112::/48", name: "AS112-v6", rfc: "RFC 7535" },
  { prefix: "2001:20::/28", name: "ORCHIDv2", rfc: "RFC 7343" },
  { prefix: "2001:30::/28", name: "Drone Remote ID Protocol Entity Tags (DETs)", rfc: "RFC 9374" },
  { prefix: "2001:db8::/32", name: "Documentation", rfc: "RFC 3849" },
  { prefix: "2002::/16", name: "6to4", rfc: "RFC 3056", embedsIPv4: 2 },
  { prefix: "2620:4f:8000::/48", name: "Direct Delegation AS112 Service", rfc: "RFC 7534" },
  { prefix: "3fff::/20", name: "Documentation", rfc: "RFC 9637" },
  { prefix: "5f00::/16", name: "Segment Routing (SRv6) SIDs", rfc: "RFC 9602" },
  { prefix: "fc00::/7", name: "Unique-Local", rfc: "RFC 4193" },
  { prefix: "fe80::/10", name: "Link-Local Unicast", rfc: "RFC 4291" },
  { prefix: "fec0::/10", name: "Site-Local (deprecated)", rfc: "RFC 3879" },
  { prefix: "ff00::/8", name: "Multicast", rfc: "RFC 4291" },
];

interface ParsedBlock extends SpecialBlock {
  bytes: number[];
  bits: number;
}

function parseBlocks(blocks: readonly SpecialBlock[], parse: (text: string) => number[] | undefined): ParsedBlock[] {
  return blocks.map((block) => {
    const [address, bits] = block.prefix.split("/");
    return { ...block, bytes: parse(address!)!, bits: Number(bits) };
  });
}

const V4 = parseBlocks(SPECIAL_IPV4_BLOCKS, parseIPv4);
const V6 = parseBlocks(SPECIAL_IPV6_BLOCKS, parseIPv6);
// Rows that carry an IPv4 address are judged last, so a narrower refusing row always wins.
const V6_ORDERED = [...V6.filter((b) => b.embedsIPv4 === undefined), ...V6.filter((b) => b.embedsIPv4 !== undefined)];

function inBlock(bytes: number[], block: ParsedBlock): boolean {
  for (let i = 0; i * 8 < block.bits; i++) {
    const maskBits = Math.min(8, block.bits - i * 8);
    const mask = (0xff << (8 - maskBits)) & 0xff;
    if ((bytes[i]! & mask) !== (block.bytes[i]! & mask)) return false;
  }
  return true;
}

/** The special-purpose block an address lies in; unparsable text answers a pseudo-row. */
export function specialBlockOf(address: string): SpecialBlock | undefined {
  const unbracketed = address.replace(/^\[|\]$/g, "");
  // A zone index (%eth0) is cut with indexOf: /%.*$/ backtracks quadratically on many "%".
  const zone = unbracketed.indexOf("%");
  const text = zone === -1 ? unbracketed : unbracketed.slice(0, zone);
  const v4 = parseIPv4(text);
  if (v4) return V4.find((block) => inBlock(v4, block));
  const v6 = parseIPv6(text);
  if (!v6) return { prefix: text, name: "not an IP address", rfc: "" };
  for (const block of V6_ORDERED) {
    if (!inBlock(v6, block)) continue;
    if (block.embedsIPv4 === undefined) return block;
    const embedded = v6.slice(block.embedsIPv4, block.embedsIPv4 + 4);
    return V4.find((b) => inBlock(embedded, b)) ?? undefined;
  }
  // Global unicast is 2000::/3; everything else is unallocated or reserved.
  if ((v6[0]! & 0xe0) !== 0x20) return { prefix: "::/0 outside 2000::/3", name: "not global unicast", rfc: "RFC 4291" };
  return undefined;
}

/**
 * Whether an IP address (IPv4 dotted quad or IPv6, brackets allowed) lies in a special-purpose
 * block of the IANA registries ({@link SPECIAL_IPV4_BLOCKS}, {@link SPECIAL_IPV6_BLOCKS}):
 * loopback, private, link-local, shared, documentation, multicast, reserved and the like.
 * IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4 forms are judged by the IPv4 address they carry.
 * Anything that does not parse counts as special: the caller refuses it.
 */
export function isSpecialUseAddress(address: string): boolean {
  return specialBlockOf(address) !== undefined;
}

/** Whether a URL hostname is an IP literal rather than a DNS name. */
export function isIPLiteral(hostname: string): boolean {
  return parseIPv4(hostname) !== undefined || hostname.startsWith("[");
}
