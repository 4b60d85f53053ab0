/** The test projects: one per package and example. */
export const projects = [
  "packages/core",
  "packages/hono",
  "packages/express",
  "packages/node",
  "packages/sqlite",
  "packages/redis",
  "packages/postgres",
  "packages/cloudflare",
  "packages/mcp-sdk",
  "packages/client",
  "examples/hono-node",
  "examples/express",
  "examples/node-http",
  "examples/cloudflare-worker",
  "examples/sdk-migration",
  "bench",
];
