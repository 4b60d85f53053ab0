import { config } from "zod/mini";
import { en } from "zod/locales";

let configured = false;

/**
 * zod/mini keeps bundles small by leaving messages out; option TypeErrors and registration errors
 * should still say what is wrong. Called when a server is created, before anything is validated.
 */
export function useEnglishMessages(): void {
  if (configured) return;
  configured = true;
  config(en());
}
