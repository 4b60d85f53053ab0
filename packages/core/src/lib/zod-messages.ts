import { en } from "zod/locales";

/**
 * zod/mini keeps bundles small by leaving messages out; option TypeErrors and registration errors
 * should still say what is wrong. Passed to each parse (`schema.safeParse(value, englishMessages)`)
 * rather than set in zod's global config, so an app's own zod setup is left as it was.
 */
export const englishMessages = { error: en().localeError };
