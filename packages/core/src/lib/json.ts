/** Deepest nesting of arrays and objects accepted in a JSON request body. */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether the arrays and objects of a JSON text nest deeper than `limit`, found by one scan that
 * skips string contents and stops at the first level past the limit. Cheap and iterative, so it
 * runs before `JSON.parse` and before any recursive validation or serialisation sees the value.
 * Malformed JSON is left for `JSON.parse` to refuse.
 */
export function isJSONTooDeep(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
