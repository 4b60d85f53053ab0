import { defineProject } from "vitest/config";

/**
 * Per-project defaults: tests import sibling packages from their TypeScript sources (the
 * `portcullis:source` export condition), so `npm test` needs no build step to see a change.
 */
export function project(name: string, overrides: { testTimeout?: number; include?: string[] } = {}) {
  return defineProject({
    resolve: { conditions: ["portcullis:source"] },
    ssr: { resolve: { conditions: ["portcullis:source"] } },
    test: {
      name,
      include: overrides.include ?? ["src/**/*.test.ts", "test/**/*.test.ts"],
      testTimeout: overrides.testTimeout ?? 15_000,
    },
  });
}
