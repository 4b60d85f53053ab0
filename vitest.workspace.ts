/** The test projects: one per package and example. */
export const projects = [
  "packages/core",
  "packages/hono",
  "examples/hono-node",
];
