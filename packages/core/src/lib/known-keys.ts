/**
 * The keys an options object may hold, level by level: a nested spec for a member that is an
 * options object of its own, `null` for a member whose value is not checked further (a scalar, a
 * function, a list, or a record whose keys are the user's, such as `scopes`).
 */
export interface KeySpec {
  readonly [key: string]: KeySpec | null;
}

/**
 * Throws a TypeError for the first key of `value`, at any depth the spec describes, that the spec
 * does not know: it names the key's path and, when one is close, the key that was meant.
 */
export function verifyKnownKeys(value: unknown, spec: KeySpec, path = ""): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return;
  for (const key of Object.keys(value)) {
    const at = path ? `${path}.${key}` : key;
    if (!Object.hasOwn(spec, key)) {
      const known = Object.keys(spec);
      const closest = closestKey(key, known);
      const hint = closest
        ? `; did you mean \`${path ? `${path}.${closest}` : closest}\`?`
        : known.length <= 12
          ? `; ${path ? `\`${path}\` takes` : "the options are"} ${known.map((k) => `\`${k}\``).join(", ")}`
          : "";
      throw new TypeError(`Portcullis: unknown option \`${at}\`${hint}`);
    }
    const inner = spec[key];
    if (inner) verifyKnownKeys((value as Record<string, unknown>)[key], inner, at);
  }
}

/**
 * The known key nearest to `key` by edit distance (case-insensitive), if it is near enough to be a
 * typo; else a known key that `key` begins (`clockTolerance` for `clockToleranceSeconds`).
 */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const typed = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(typed, candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  if (bestDistance <= Math.max(2, Math.floor(key.length / 3))) return best;
  return typed.length >= 4 ? known.find((candidate) => candidate.toLowerCase().startsWith(typed)) : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i]!;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1);
    }
  }
  return rows[a.length]![b.length]!;
}
