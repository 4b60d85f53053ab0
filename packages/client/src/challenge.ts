/** The parameters of a `Bearer` challenge (RFC 6750 §3, RFC 9728 §5.1). */
export interface BearerChallenge {
  resourceMetadata?: string;
  scope?: string;
  error?: string;
  errorDescription?: string;
}

/**
 * Parses a `WWW-Authenticate` header and returns its `Bearer` challenge, or `undefined` when it has
 * none. Parameter values may be quoted strings (with `\` escapes) or tokens.
 */
export function parseBearerChallenge(header: string | null | undefined): BearerChallenge | undefined {
  if (!header) return undefined;
  const challenges = splitChallenges(header);
  const bearer = challenges.find((c) => c.scheme.toLowerCase() === "bearer");
  if (!bearer) return undefined;
  const p = bearer.params;
  return {
    ...(p.resource_metadata !== undefined ? { resourceMetadata: p.resource_metadata } : {}),
    ...(p.scope !== undefined ? { scope: p.scope } : {}),
    ...(p.error !== undefined ? { error: p.error } : {}),
    ...(p.error_description !== undefined ? { errorDescription: p.error_description } : {}),
  };
}

function splitChallenges(header: string): { scheme: string; params: Record<string, string> }[] {
  const out: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const n = header.length;
  const skip = () => {
    while (i < n && (header[i] === " " || header[i] === "\t" || header[i] === ",")) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z/=]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skip();
    const scheme = token();
    if (!scheme) break;
    const current = { scheme, params: {} as Record<string, string> };
    out.push(current);
    // auth-params: name=value pairs until the next scheme (a token not followed by `=`)
    for (;;) {
      skip();
      const save = i;
      const nameStart = i;
      while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i]!)) i++;
      const name = header.slice(nameStart, i);
      while (i < n && header[i] === " ") i++;
      if (!name || header[i] !== "=") {
        i = save;
        break;
      }
      i++;
      while (i < n && header[i] === " ") i++;
      let value = "";
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === "\\" && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        const start = i;
        while (i < n && header[i] !== "," && header[i] !== " ") i++;
        value = header.slice(start, i);
      }
      current.params[name.toLowerCase()] = value;
    }
  }
  return out;
}
