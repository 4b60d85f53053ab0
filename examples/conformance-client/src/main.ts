// An MCP client on @portcullis/client for the official MCP conformance suite: it is started with
// the server URL as its argument, MCP_CONFORMANCE_SCENARIO naming the scenario, and, for
// scenarios with pre-arranged credentials, MCP_CONFORMANCE_CONTEXT (JSON). It connects, lists the
// tools and calls the first; the suite's authorization servers approve at once, so "the browser"
// is a plain fetch that follows the redirect to the loopback callback.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createAuthFetch, createMemoryStore, signInWithClientCredentials, type ClientOptions } from "@portcullis/client";

/** The client ID metadata document URL the suite's CIMD scenarios expect. */
const CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json";

interface Context {
  client_id?: string;
  client_secret?: string;
  private_key_pem?: string;
  signing_algorithm?: string;
}

async function importPrivateKey(pem: string, algorithm: string): Promise<CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  const params: EcKeyImportParams | RsaHashedImportParams = algorithm.startsWith("ES")
    ? { name: "ECDSA", namedCurve: `P-${algorithm.slice(2)}` }
    : { name: algorithm.startsWith("PS") ? "RSA-PSS" : "RSASSA-PKCS1-v1_5", hash: `SHA-${algorithm.slice(2)}` };
  return crypto.subtle.importKey("pkcs8", der, params, false, ["sign"]);
}

async function main(): Promise<void> {
  const serverUrl = process.argv[2];
  if (!serverUrl) throw new Error("usage: main.ts <mcp-server-url>");
  const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? "";
  const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? "{}") as Context;
  const store = createMemoryStore();
  const options: ClientOptions = { store, clientName: "Portcullis conformance client", clientMetadataUrl: CLIENT_METADATA_URL };
  if (context.client_id) options.clientId = context.client_id;
  if (context.client_secret) options.clientSecret = context.client_secret;
  if (context.private_key_pem) options.privateKey = { key: await importPrivateKey(context.private_key_pem, context.signing_algorithm ?? "ES256") };

  if (scenario.startsWith("auth/client-credentials")) {
    // A machine client: no user, no browser.
    await signInWithClientCredentials(serverUrl, { ...options, clientId: context.client_id ?? "" });
  }
  const authFetch = createAuthFetch(serverUrl, {
    ...options,
    openUrl: async (url) => {
      const response = await fetch(url);
      await response.body?.cancel();
    },
  });
  const client = new Client({ name: "portcullis-conformance-client", version: "0.1.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { fetch: authFetch }));
  const { tools } = await client.listTools();
  if (tools[0]) await client.callTool({ name: tools[0].name, arguments: {} });
  await client.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? `${error.name}: ${error.message}` : error);
    process.exit(1);
  },
);
