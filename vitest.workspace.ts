/** The test projects: one per package and example. */
export const projects = [
  "packages/core",
  "packages/hono",
  "packages/express",
  "packages/node",
  "packages/sqlite",
  "packages/redis",
  "packages/cloudflare",
  "packages/client",
  "examples/hono-node",
  "examples/express",
  "examples/node-http",
  "examples/cloudflare-worker",
  "bench",
];
