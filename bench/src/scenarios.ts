/** Every scenario of the benchmark, in the order they run (baselines first). */
import type { HttpScenario, Scenario, Settings } from "./harness.js";
import type { RequestSpec } from "./load.js";
import type { ReadyInfo } from "./servers/common.js";
import { REGISTRATION_BODY } from "./servers/common.js";

const MCP_BODY = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" });
// About the length of the access tokens the Portcullis servers issue (ES256, a loopback issuer).
const FLOOR_TOKEN_LENGTH = 450;
const mcp = (headers: Record<string, string> = {}): RequestSpec => ({ method: "POST", path: "/mcp", headers, body: MCP_BODY });
const register: RequestSpec = { method: "POST", path: "/register", body: REGISTRATION_BODY };
/** A refresh grant per request, each spending the next of the server's pre-issued refresh tokens. */
const refreshGrant = (info: ReadyInfo): RequestSpec => ({ method: "POST", path: "/token", rotate: { file: info.files!.refreshTokens!, into: "refresh-form" } });
/** A refresh row's load and ratio: runs alternated with the SDK's refresh grant, which serves the row's own tokens. */
const againstSdkRefresh = { request: refreshGrant, expectStatus: 200, compare: "sdk-refresh", paired: true } as const;
/** A registration row's load and ratio: runs alternated with the SDK's registration. */
const againstSdkRegister = { request: () => register, expectStatus: 201, compare: "sdk-register", paired: true } as const;

export interface Sizes {
  /** Access tokens rotated through by the fresh-token scenario; above the verifier's 10,000-entry cache, so none is a hit. */
  freshTokens: number;
  /**
   * Refresh tokens available to one refresh scenario (each request spends one). A paired baseline
   * spends the same file's tokens, so a pair takes both sides' requests, warm-ups included: at
   * 5,000 refreshes a second each (a fast host), 2 × (2 + 3 × 5 s) × 5,000 = 170,000 in a full
   * run. A token taken again is reuse, which the server answers 400 and counts against the row.
   */
  refreshTokens: number;
  /** Live grants pre-loaded for the cost-growth scenarios. */
  growth: number[];
}

export function sizes(settings: Settings): Sizes {
  return settings.quick
    ? { freshTokens: 12_000, refreshTokens: 40_000, growth: [1_000, 100_000] }
    : { freshTokens: 20_000, refreshTokens: 300_000, growth: [1_000, 100_000, 1_000_000] };
}

export type Store = "memory" | "sqlite" | "redis" | "postgres";

/** The cost-growth scenario ids: `growth-1k` … on memory (as before), `growth-sqlite-1k` … on the others. */
export function growthId(store: Store, grants: number): string {
  return store === "memory" ? `growth-${label(grants)}` : `growth-${store}-${label(grants)}`;
}

/** The store a cost-growth scenario id measures, or undefined for any other id. */
export function growthStore(id: string): Store | undefined {
  const m = /^growth-(?:(sqlite|redis|postgres)-)?\d+[kM]?$/.exec(id);
  return m ? ((m[1] as Store | undefined) ?? "memory") : undefined;
}

export const WORKER_LABEL = "miniflare (workerd) on this machine";

export function scenarios(
  settings: Settings,
  options: { redis: boolean; postgres?: boolean; adapters: Array<"express" | "node">; worker: boolean },
): Scenario[] {
  const z = sizes(settings);
  const list: Scenario[] = [];
  const http = (s: Omit<HttpScenario, "kind">) => list.push({ kind: "http", ...s });

  for (const [framework, name] of [
    ["hono", "Hono (@hono/node-server)"],
    ["express", "Express 5"],
    ["node", "node:http"],
  ] as const) {
    http({
      id: `bare-${framework}`,
      label: `bare ${name}, tiny JSON endpoint`,
      group: "baseline",
      script: "bare.ts",
      config: { framework },
      request: () => mcp(),
      expectStatus: 200,
    });
  }
  http({
    id: "sdk-bearer",
    label: "MCP SDK requireBearerAuth (Express, jose ES256)",
    group: "baseline",
    script: "sdk.ts",
    config: { mode: "bearer" },
    request: (info) => mcp({ Authorization: `Bearer ${info.token}` }),
    expectStatus: 200,
    compare: "bare-express",
  });
  http({
    id: "sdk-refresh",
    label: "MCP SDK mcpAuthRouter refresh grant (opaque tokens)",
    group: "baseline",
    script: "sdk.ts",
    config: { mode: "router", refreshTokens: z.refreshTokens + 20_000 },
    request: refreshGrant,
    expectStatus: 200,
  });
  http({
    id: "sdk-register",
    label: "MCP SDK mcpAuthRouter POST /register",
    group: "baseline",
    script: "sdk.ts",
    config: { mode: "router" },
    request: () => register,
    expectStatus: 201,
    fillRegistrations: true,
  });
  // The floor of a reused-token line: the bare framework's endpoint behind middlewares that do
  // nothing, on a request carrying a bearer token of an access token's length (the header is
  // read and parsed all the same), paired with the bare framework.
  const middlewareFloor = (framework: "hono" | "express", label: string) =>
    http({
      id: `floor-${framework}-middleware`,
      label: `Floor: ${label}, a bearer token in the request`,
      group: "baseline",
      script: "bare.ts",
      config: { framework: `${framework}-middleware` },
      request: () => mcp({ Authorization: `Bearer ${"a".repeat(FLOOR_TOKEN_LENGTH)}` }),
      expectStatus: 200,
      compare: `bare-${framework}`,
      paired: true,
    });
  // Any Hono middleware, doing nothing.
  middlewareFloor("hono", "bare Hono behind one no-op async middleware");
  // Floors: what the refresh and registration targets can reach at best on this host (floor.ts).
  for (const [framework, name] of [
    ["hono", "bare Hono"],
    ["node", "bare node:http"],
  ] as const) {
    http({
      id: `floor-${framework}-refresh`,
      label: `Floor: signed-JWT refresh on ${name} (hashed tokens in a Map, one WebCrypto ES256 signature)`,
      group: "baseline",
      script: "floor.ts",
      config: { mode: "refresh", framework, refreshTokens: 2 * z.refreshTokens },
      ...againstSdkRefresh,
    });
    if (framework === "hono") {
      http({
        id: "floor-hono-refresh-duties",
        label: "Floor: the same refresh plus Portcullis's duties (client and grant lookups, spent and sealed retry records)",
        group: "baseline",
        script: "floor.ts",
        config: { mode: "refresh-duties", framework, refreshTokens: 2 * z.refreshTokens },
        ...againstSdkRefresh,
      });
    }
    http({
      id: `floor-${framework}-register`,
      label: `Floor: registration on ${name} (redirect_uris checked, a Map)`,
      group: "baseline",
      script: "floor.ts",
      config: { mode: "register", framework },
      ...againstSdkRegister,
    });
    if (framework === "hono") {
      http({
        id: "floor-hono-register-duties",
        label: "Floor: the same registration plus Portcullis's duties (metadata checked, a hashed registration access token)",
        group: "baseline",
        script: "floor.ts",
        config: { mode: "register-duties", framework },
        ...againstSdkRegister,
      });
    }
  }
  list.push({ kind: "ops", id: "jose", label: "jose ES256", group: "baseline" });

  const stores: Store[] = ["memory", "sqlite", ...(options.redis ? (["redis"] as const) : []), ...(options.postgres ? (["postgres"] as const) : [])];
  for (const store of stores) {
    const base = { group: `portcullis hono/${store}`, script: "portcullis.ts" as const };
    const config = { adapter: "hono", store };
    http({
      ...base,
      id: `hono-${store}-reused`,
      label: `Portcullis Hono guard, ${store}, reused token`,
      config,
      request: (info) => mcp({ Authorization: `Bearer ${info.token}` }),
      expectStatus: 200,
      compare: "bare-hono",
      paired: true,
    });
    http({
      ...base,
      id: `hono-${store}-fresh`,
      label: `Portcullis Hono guard, ${store}, fresh token per request`,
      config: { ...config, freshTokens: z.freshTokens },
      request: (info) => ({ ...mcp(), rotate: { file: info.files!.accessTokens!, into: "bearer" } }),
      expectStatus: 200,
      compare: "jose-verify",
    });
    if (store === "memory") {
      http({
        ...base,
        id: "hono-memory-401-none",
        label: "Portcullis Hono guard, 401 no token",
        config,
        request: () => mcp(),
        expectStatus: 401,
        compare: "hono-memory-reused",
      });
      http({
        ...base,
        id: "hono-memory-401-badsig",
        label: "Portcullis Hono guard, 401 bad signature",
        config,
        request: (info) => mcp({ Authorization: `Bearer ${info.badToken}` }),
        expectStatus: 401,
        compare: "hono-memory-reused",
      });
    }
    http({
      ...base,
      id: `hono-${store}-refresh`,
      label: `Portcullis refresh grant (ES256 JWT), ${store}`,
      config: { ...config, refreshTokens: z.refreshTokens, ...(store === "memory" ? { maxEntries: 10_000_000 } : {}) },
      ...againstSdkRefresh,
      readyTimeoutSeconds: 300,
    });
    http({
      ...base,
      id: `hono-${store}-register`,
      label: `Portcullis POST /register, ${store}`,
      config,
      ...againstSdkRegister,
      fillRegistrations: true,
    });
  }

  for (const adapter of options.adapters) {
    const bare = `bare-${adapter}`;
    const name = adapter === "express" ? "Express" : "Node";
    // The Express endpoint mounted as the adapter is (an application-level middleware and an
    // async one on the route), doing nothing.
    if (adapter === "express")
      middlewareFloor("express", "bare Express behind two no-op middlewares (app-level, and async on the route, as the adapter mounts)");
    const base = { group: `portcullis ${adapter}/memory`, script: "portcullis.ts" as const, config: { adapter, store: "memory" } };
    http({
      ...base,
      id: `${adapter}-memory-reused`,
      label: `Portcullis ${name} guard, memory, reused token`,
      request: (info) => mcp({ Authorization: `Bearer ${info.token}` }),
      expectStatus: 200,
      compare: bare,
      paired: true,
    });
    http({
      ...base,
      id: `${adapter}-memory-fresh`,
      label: `Portcullis ${name} guard, memory, fresh token per request`,
      config: { ...base.config, freshTokens: z.freshTokens },
      request: (info) => ({ ...mcp(), rotate: { file: info.files!.accessTokens!, into: "bearer" } }),
      expectStatus: 200,
      compare: "jose-verify",
    });
    http({
      ...base,
      id: `${adapter}-memory-401-none`,
      label: `Portcullis ${name} guard, 401 no token`,
      request: () => mcp(),
      expectStatus: 401,
      compare: `${adapter}-memory-reused`,
    });
    http({
      ...base,
      id: `${adapter}-memory-refresh`,
      label: `Portcullis ${name} adapter, refresh grant (ES256 JWT), memory`,
      config: { ...base.config, refreshTokens: z.refreshTokens, maxEntries: 10_000_000 },
      ...againstSdkRefresh,
      readyTimeoutSeconds: 300,
    });
    http({
      ...base,
      id: `${adapter}-memory-register`,
      label: `Portcullis ${name} adapter, POST /register, memory`,
      ...againstSdkRegister,
    });
  }

  for (const store of stores) {
    for (const grants of z.growth) {
      http({
        id: growthId(store, grants),
        label: `Portcullis refresh grant, ${store}, ${label(grants)} live grants`,
        group: `cost growth (hono/${store})`,
        script: "portcullis.ts",
        config: { adapter: "hono", store, refreshTokens: z.refreshTokens, liveGrants: grants, ...(store === "memory" ? { maxEntries: 10_000_000 } : {}) },
        nodeArgs: ["--max-old-space-size=6144"],
        request: refreshGrant,
        expectStatus: 200,
        compare: growthId(store, z.growth[0]!),
        // Runs alternated with the fewest-grants server's, which serves this row's own tokens.
        ...(grants !== z.growth[0] ? { paired: true } : {}),
        readyTimeoutSeconds: 300,
      });
    }
  }

  if (options.worker) {
    const base = { group: "cloudflare worker (workerd)", script: "worker.ts" as const, readyTimeoutSeconds: 180 };
    // The same request on both sides but for the bearer token, which the unguarded Worker has no use for.
    const accept = { Accept: "application/json, text/event-stream" };
    http({
      ...base,
      id: "worker-bare",
      label: "Worker without Portcullis (bench entry, the example's MCP server), POST /mcp tools/list",
      config: { guard: false },
      request: () => mcp(accept),
      expectStatus: 200,
      note: `${WORKER_LABEL}; built with the example's build settings; RSS is workerd's`,
    });
    http({
      ...base,
      id: "worker-reused",
      label: "Cloudflare Worker example, guarded POST /mcp tools/list, reused token",
      config: {},
      request: (info) => mcp({ ...accept, Authorization: `Bearer ${info.token}` }),
      expectStatus: 200,
      compare: "worker-bare",
      paired: true,
      note: `${WORKER_LABEL}; the example's bundle as built, token from a real sign-in; RSS is workerd's`,
    });
  }
  return list;
}

function label(n: number): string {
  return n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n);
}
