// Node's own modules where the runtime has them, found at run time rather than imported, so the
// core still loads (and bundles) on runtimes without them.

export interface NodeProcess {
  getBuiltinModule?: (id: string) => unknown;
  versions?: Record<string, string | undefined>;
}

/** A Node built-in, loaded at call time where the runtime offers `process.getBuiltinModule` (never on Workers). */
export function nodeBuiltin<T>(id: string): T | undefined {
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (typeof proc?.getBuiltinModule !== "function") return undefined;
  if ((globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent?.startsWith("Cloudflare-Workers")) return undefined;
  try {
    return (proc.getBuiltinModule(id) as T | undefined) ?? undefined;
  } catch {
    return undefined;
  }
}
