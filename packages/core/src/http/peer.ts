/** What an adapter knows about the connection a request came on. */
export interface ConnectionInfo {
  /** The peer address of the socket (`req.socket.remoteAddress` in Node). */
  remoteAddress?: string | undefined;
  /**
   * The request body, when the adapter has already read it from the runtime's own stream (see
   * `serveOwned`): the core then reads this instead of `request.body`.
   */
  body?: Uint8Array | undefined;
}

/** How the address of the caller (the HTTP peer, not an OAuth client) is found. */
export interface PeerAddressOptions {
  clientIp?: ((request: Request, connection: ConnectionInfo) => string | undefined) | undefined;
  trustProxy: number;
}

/**
 * The caller's address: the app's `clientIp` when given; else the socket address,
 * or, behind `trustProxy` proxies, the `X-Forwarded-For` entry that many hops from the socket.
 * Forwarded headers are never read unless `trustProxy` says how many proxies to believe.
 */
export function peerAddress(request: Request, connection: ConnectionInfo, options: PeerAddressOptions): string | undefined {
  if (options.clientIp) return options.clientIp(request, connection);
  if (options.trustProxy === 0) return connection.remoteAddress;
  const forwarded = (request.headers.get("X-Forwarded-For") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  // Nearest first: the socket, then what each trusted proxy appended, right to left.
  const chain = [connection.remoteAddress, ...forwarded.reverse()];
  return chain[Math.min(options.trustProxy, chain.length - 1)];
}
