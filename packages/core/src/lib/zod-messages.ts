import { en } from "zod/locales";

/**
 * zod/mini keeps bundles small by leaving messages out; option TypeErrors should still say what
 * is wrong (registration's checks, in `clients/metadata-fields.ts`, write the same English by hand). Passed to each parse (`schema.safeParse(value, englishMessages)`)
 * rather than set in zod's global config, so an app's own zod setup is left as it was.
 */
export const englishMessages = { error: en().localeError };
