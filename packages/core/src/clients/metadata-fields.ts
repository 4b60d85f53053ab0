import { OAuthError } from "../errors.js";
import { parseURL } from "../lib/url.js";
import type { ClientMetadata } from "../types.js";

// The type and size of each RFC 7591 member, checked by hand: registration is a hot path, and
// the zod schema these checks replace took three times as long as all of validation now does.
// The messages are the ones that schema gave (`field: message` in zod's English), which clients
// and tests already see.

const AUTH_METHODS: readonly ClientMetadata["token_endpoint_auth_method"][] = ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"];
const APPLICATION_TYPES: readonly string[] = ["web", "native"];

/** Client metadata members with their types and sizes checked, before the rules between them. */
export interface MetadataFields {
  redirect_uris?: string[] | undefined;
  token_endpoint_auth_method: ClientMetadata["token_endpoint_auth_method"];
  grant_types: string[];
  response_types?: string[] | undefined;
  application_type?: "web" | "native" | undefined;
  client_name?: string | undefined;
  client_uri?: string | undefined;
  logo_uri?: string | undefined;
  scope?: string | undefined;
  contacts?: string[] | undefined;
  tos_uri?: string | undefined;
  policy_uri?: string | undefined;
  software_id?: string | undefined;
  software_version?: string | undefined;
  jwks?: { keys: Record<string, unknown>[] } | undefined;
  jwks_uri?: string | undefined;
}

function refuse(path: string, message: string): never {
  throw new OAuthError(path.startsWith("redirect_uris") ? "invalid_redirect_uri" : "invalid_client_metadata", `${path}: ${message}`);
}

/** How a value's type is named in a message: `null`, `array`, `NaN`, a class name, else `typeof`. */
function typeName(value: unknown): string {
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : Number.isFinite(value) ? "number" : String(value);
  if (typeof value !== "object") return typeof value;
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (Object.getPrototypeOf(value) !== Object.prototype && "constructor" in value && value.constructor) return String(value.constructor.name);
  return "object";
}

const wrongType = (path: string, expected: string, value: unknown): never => refuse(path, `Invalid input: expected ${expected}, received ${typeName(value)}`);

/** Length in Unicode code points: a surrogate pair counts once, a lone surrogate once. */
function codePoints(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    if ((text.charCodeAt(i) & 0xfc00) === 0xd800 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      count--;
      i++;
    }
  }
  return count;
}

function string(value: unknown, path: string, max = Number.POSITIVE_INFINITY, nonEmpty = false): string {
  if (typeof value !== "string") return wrongType(path, "string", value);
  if (nonEmpty && value.length === 0) refuse(path, "Too small: expected string to have >=1 characters");
  // Counted in code points, as the schema did; a string within the limit in UTF-16 units is within it.
  if (value.length > max && codePoints(value) > max) refuse(path, `Too big: expected string to have <=${max} characters`);
  return value;
}

function httpsURL(value: unknown, path: string): string {
  const url = string(value, path, 2000);
  if (parseURL(url)?.protocol !== "https:") refuse(path, "must be an https URL");
  return url;
}

/** An array checked element by element, copied; too long is refused before any element is looked at. */
function array<T>(value: unknown, path: string, max: number, element: (item: unknown, path: string) => T, min = 0): T[] {
  if (!Array.isArray(value)) return wrongType(path, "array", value);
  if (value.length > max) refuse(path, `Too big: expected array to have <=${max} items`);
  const out = new Array<T>(value.length);
  for (let i = 0; i < value.length; i++) out[i] = element(value[i], `${path}.${i}`);
  if (value.length < min) refuse(path, `Too small: expected array to have >=${min} items`);
  return out;
}

function oneOf<T extends string>(value: unknown, path: string, values: readonly T[]): T {
  if (!values.includes(value as T)) refuse(path, `Invalid option: expected one of ${values.map((v) => `"${v}"`).join("|")}`);
  return value as T;
}

/** An object made by a plain object literal, `Object.create(null)` or `JSON.parse`. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const ctor: unknown = value.constructor;
  if (ctor === undefined || typeof ctor !== "function") return true;
  const prototype: unknown = ctor.prototype;
  return typeof prototype === "object" && prototype !== null && !Array.isArray(prototype) && Object.hasOwn(prototype, "isPrototypeOf");
}

/** A JWK as a copy of its own members (an own `__proto__`, as `JSON.parse` makes, is left out). */
function jwk(value: unknown, path: string): Record<string, unknown> {
  if (!isPlainObject(value)) return wrongType(path, "record", value);
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(value)) if (name !== "__proto__") out[name] = value[name];
  return out;
}

function jwks(value: unknown, path: string): { keys: Record<string, unknown>[] } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return wrongType(path, "object", value);
  return { keys: array((value as { keys?: unknown }).keys, `${path}.keys`, 10, jwk, 1) };
}

const anyString = (value: unknown, path: string) => string(value, path);
const contact = (value: unknown, path: string) => string(value, path, 320);

type Field = readonly [name: keyof MetadataFields, check: (value: unknown, path: string) => unknown, fallback?: () => unknown];

/** The members in the order they are checked, which decides the one an error names. */
const FIELDS: readonly Field[] = [
  ["redirect_uris", (v, p) => array(v, p, 20, anyString)],
  ["token_endpoint_auth_method", (v, p) => oneOf(v, p, AUTH_METHODS), () => "client_secret_basic"],
  ["grant_types", (v, p) => array(v, p, 10, anyString, 1), () => ["authorization_code"]],
  ["response_types", (v, p) => array(v, p, 10, anyString)],
  ["application_type", (v, p) => oneOf(v, p, APPLICATION_TYPES)],
  ["client_name", (v, p) => string(v, p, 200, true)],
  ["client_uri", httpsURL],
  ["logo_uri", httpsURL],
  ["scope", (v, p) => string(v, p, 2000)],
  ["contacts", (v, p) => array(v, p, 20, contact)],
  ["tos_uri", httpsURL],
  ["policy_uri", httpsURL],
  ["software_id", (v, p) => string(v, p, 200)],
  ["software_version", (v, p) => string(v, p, 100)],
  ["jwks", jwks],
  ["jwks_uri", httpsURL],
];

/**
 * Checks the type and size of each RFC 7591 §2 member and returns them with the defaults
 * (`token_endpoint_auth_method` `client_secret_basic`, `grant_types` `["authorization_code"]`);
 * unknown members are dropped, arrays and JWKs copied. A member present with the value
 * `undefined` stays, as `undefined`. Throws `invalid_client_metadata` (`invalid_redirect_uri` for
 * `redirect_uris`) naming the first member in error, in the order of {@link FIELDS}.
 *
 * Does not check the rules between members (grant and response types, JWKs and the auth method,
 * redirect URIs and the application type, scopes): `validateClientMetadata` does.
 */
export function readMetadataFields(raw: Record<string, unknown>): MetadataFields {
  const out: Record<string, unknown> = {};
  for (const [name, check, fallback] of FIELDS) {
    const value = raw[name];
    if (value !== undefined) out[name] = check(value, name);
    else if (fallback) out[name] = fallback();
    else if (name in raw) out[name] = undefined;
  }
  return out as unknown as MetadataFields;
}
