import { lookup } from "node:dns/promises";

export { DEFAULT_NODE_STORE, openStore } from "./store.js";
export { handleNodeMcpRequest } from "./node-mcp.js";
export { keptKey, keptKeyFile, upstreamKeyFile, withSigningKeyEncryptionKey, withUpstreamTokenKey } from "./kept-keys.js";

/** Resolves a host to every address it has, so metadata-document fetches can refuse private ones. */
export async function resolveHost(hostname: string): Promise<string[]> {
  return (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);
}
