/** The part of a Fetch `Headers` the resource guard reads. */
export interface HeaderReader {
  get(name: string): string | null;
}

/**
 * A read-only {@link HeaderReader} over Node's `rawHeaders` (`[name, value, name, value, ...]`),
 * so an adapter can hand the guard a request's headers without building a Fetch `Headers`.
 * As `Headers#get` does, names match case-insensitively and a repeated header's values are
 * joined with `", "` (two `Authorization` headers stay visible as two, which the guard refuses).
 * HTTP/2 pseudo-headers (`:authority`) never match.
 *
 * @example
 * guard.authenticate({ method: req.method, url, headers: rawHeaders(req.rawHeaders) });
 */
export function rawHeaders(raw: readonly string[]): HeaderReader {
  return {
    get(name: string): string | null {
      const wanted = name.toLowerCase();
      let value: string | null = null;
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const key = raw[i]!;
        if (key.length !== wanted.length || key.toLowerCase() !== wanted) continue;
        value = value === null ? raw[i + 1]! : `${value}, ${raw[i + 1]!}`;
      }
      return value;
    },
  };
}
