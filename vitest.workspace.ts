/** The test projects: one per package and example. */
export const projects = [
  "packages/core",
  "packages/hono",
  "packages/sqlite",
  "packages/redis",
  "packages/cloudflare",
  "examples/hono-node",
  "examples/cloudflare-worker",
];
