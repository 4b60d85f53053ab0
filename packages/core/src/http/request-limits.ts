/** Longest request URL any endpoint accepts; past it, 414. */
export const MAX_URL_LENGTH = 8192;
/** Longest single header value; past it (or past {@link MAX_HEADERS_LENGTH} in all), 431. */
export const MAX_HEADER_LENGTH = 16 * 1024;
export const MAX_HEADERS_LENGTH = 32 * 1024;

/**
 * The status for a request whose URL or headers exceed the limits, or undefined. Node caps
 * headers itself; Workers, Deno and Bun allow more, and the core must not depend on a runtime.
 */
export function oversizedRequestStatus(request: Request): 414 | 431 | undefined {
  if (request.url.length > MAX_URL_LENGTH) return 414;
  let total = 0;
  for (const [name, value] of request.headers) {
    if (value.length > MAX_HEADER_LENGTH) return 431;
    total += name.length + value.length;
    if (total > MAX_HEADERS_LENGTH) return 431;
  }
  return undefined;
}
