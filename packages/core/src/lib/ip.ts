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

const inV4 = (b: number[], net: number[], bits: number) => {
  for (let i = 0; i < 4; i++) {
    const maskBits = Math.max(0, Math.min(8, bits - i * 8));
    const mask = maskBits === 0 ? 0 : (0xff << (8 - maskBits)) & 0xff;
    if ((b[i]! & mask) !== (net[i]! & mask)) return false;
  }
  return true;
};

// RFC 6890 special-purpose and other non-public IPv4 blocks.
const SPECIAL_V4: [number[], number][] = [
  [[0, 0, 0, 0], 8],
  [[10, 0, 0, 0], 8],
  [[100, 64, 0, 0], 10],
  [[127, 0, 0, 0], 8],
  [[169, 254, 0, 0], 16],
  [[172, 16, 0, 0], 12],
  [[192, 0, 0, 0], 24],
  [[192, 0, 2, 0], 24],
  [[192, 88, 99, 0], 24],
  [[192, 168, 0, 0], 16],
  [[198, 18, 0, 0], 15],
  [[198, 51, 100, 0], 24],
  [[203, 0, 113, 0], 24],
  [[224, 0, 0, 0], 4],
  [[240, 0, 0, 0], 4],
];

/**
 * Whether an IP address (IPv4 dotted quad or IPv6, brackets allowed) is loopback, private,
 * link-local, shared, documentation, multicast or otherwise not a public unicast address.
 * IPv4-mapped and NAT64 IPv6 forms are judged by the IPv4 address they carry. Anything that does
 * not parse counts as special: the caller refuses it.
 */
export function isSpecialUseAddress(address: string): boolean {
  const unbracketed = address.replace(/^\[|\]$/g, "");
  // A zone index (%eth0) is cut with indexOf: /%.*$/ backtracks quadratically on many "%".
  const zone = unbracketed.indexOf("%");
  const text = zone === -1 ? unbracketed : unbracketed.slice(0, zone);
  const v4 = parseIPv4(text);
  if (v4) return SPECIAL_V4.some(([net, bits]) => inV4(v4, net, bits));
  const v6 = parseIPv6(text);
  if (!v6) return true;
  const embedded = v6.slice(12);
  const prefix = (bytes: number[]) => bytes.every((b, i) => v6[i] === b);
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::a.b.c.d (NAT64)
  if (prefix([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]) || prefix([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) || prefix([0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0])) {
    return embedded.every((b) => b === 0) || SPECIAL_V4.some(([net, bits]) => inV4(embedded, net, bits));
  }
  const first = v6[0]!;
  if ((first & 0xfe) === 0xfc) return true; // fc00::/7 unique local
  if (first === 0xfe && (v6[1]! & 0xc0) === 0x80) return true; // fe80::/10 link-local
  if (first === 0xfe && (v6[1]! & 0xc0) === 0xc0) return true; // fec0::/10 site-local (deprecated)
  if (first === 0xff) return true; // multicast
  if (prefix([0x20, 0x01, 0x0d, 0xb8])) return true; // documentation
  if (prefix([0x20, 0x01, 0x00, 0x00])) return true; // Teredo
  if (prefix([0x20, 0x02])) return true; // 6to4 carries an arbitrary IPv4 address
  if (prefix([0x01, 0x00, 0, 0, 0, 0, 0, 0])) return true; // discard-only
  return false;
}

/** Whether a URL hostname is an IP literal rather than a DNS name. */
export function isIPLiteral(hostname: string): boolean {
  return parseIPv4(hostname) !== undefined || hostname.startsWith("[");
}
