import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { OAuthError } from "../errors.js";
import { englishMessages } from "../lib/zod-messages.js";
import { parseURL } from "../lib/url.js";
import { readMetadataFields } from "./metadata-fields.js";
import { validateClientMetadata } from "./registry.js";

// The schema the hand-written checks replaced, kept as the oracle they must agree with: the same
// values, defaults and key order, and the same first error in the same words.
const httpsUrl = () =>
  z.optional(
    z.string().check(
      z.maxLength(2000),
      z.refine((v) => parseURL(v)?.protocol === "https:", "must be an https URL"),
    ),
  );
const text = (max: number) => z.optional(z.string().check(z.minLength(1), z.maxLength(max)));
const schema = z.object({
  redirect_uris: z.optional(z.array(z.string()).check(z.maxLength(20))),
  token_endpoint_auth_method: z._default(z.enum(["none", "client_secret_basic", "client_secret_post", "private_key_jwt"]), "client_secret_basic"),
  grant_types: z._default(z.array(z.string()).check(z.minLength(1), z.maxLength(10)), ["authorization_code"]),
  response_types: z.optional(z.array(z.string()).check(z.maxLength(10))),
  application_type: z.optional(z.enum(["web", "native"])),
  client_name: text(200),
  client_uri: httpsUrl(),
  logo_uri: httpsUrl(),
  scope: z.optional(z.string().check(z.maxLength(2000))),
  contacts: z.optional(z.array(z.string().check(z.maxLength(320))).check(z.maxLength(20))),
  tos_uri: httpsUrl(),
  policy_uri: httpsUrl(),
  software_id: z.optional(z.string().check(z.maxLength(200))),
  software_version: z.optional(z.string().check(z.maxLength(100))),
  jwks: z.optional(z.object({ keys: z.array(z.record(z.string(), z.unknown())).check(z.minLength(1), z.maxLength(10)) })),
  jwks_uri: httpsUrl(),
});

type Outcome = { value: unknown; keys: string[] } | { code: string; description: string | undefined };

function bySchema(raw: Record<string, unknown>): Outcome {
  const parsed = schema.safeParse(raw, englishMessages);
  if (parsed.success) return { value: parsed.data, keys: Object.keys(parsed.data) };
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join(".");
  const error = new OAuthError(field.startsWith("redirect_uris") ? "invalid_redirect_uri" : "invalid_client_metadata", `${field}: ${issue.message}`);
  return { code: error.code, description: error.description };
}

function byHand(raw: Record<string, unknown>): Outcome {
  try {
    const value = readMetadataFields(raw);
    return { value, keys: Object.keys(value) };
  } catch (error) {
    if (error instanceof OAuthError) return { code: error.code, description: error.description };
    throw error;
  }
}

const refusal = (raw: Record<string, unknown>) => {
  const outcome = byHand(raw);
  return "code" in outcome ? outcome : undefined;
};

class Key {
  kty = "EC";
}

const oddValue = fc.oneof(
  fc.anything({
    maxDepth: 2,
    withBoxedValues: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withBigInt: true,
    withDate: true,
    withTypedArray: true,
    withSparseArray: true,
  }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, undefined, null, new Key(), Object.create(null)),
);
// Strings around each limit, counted in UTF-16 units and in code points.
const sized = fc.oneof(
  fc.string(),
  fc
    .constantFrom(0, 1, 100, 101, 200, 201, 320, 321, 2000, 2001)
    .chain((n) => fc.constantFrom("a".repeat(n), "😀".repeat(n), `${"a".repeat(Math.max(0, n - 1))}\ud800`)),
);
const url = fc.oneof(
  sized,
  fc.webUrl(),
  fc.constantFrom(
    "https://client.example/x",
    "http://client.example/",
    "",
    "https://",
    `https://client.example/${"a".repeat(1980)}`,
    `https://client.example/${"😀".repeat(990)}`,
  ),
);
const list = (element: fc.Arbitrary<unknown>) => fc.oneof(fc.array(element, { maxLength: 22 }), fc.array(element, { minLength: 8, maxLength: 12 }), oddValue);
const jwk = fc.oneof(fc.object({ maxDepth: 1 }), fc.constant(JSON.parse('{"kty":"EC","__proto__":{"x":1}}')), oddValue);
const goodURL = fc.oneof(fc.constant("https://client.example/x"), fc.webUrl({ validSchemes: ["https"] }));
/** Each member: a valid value most of the time, else one near a limit or of another type. */
const member = (valid: fc.Arbitrary<unknown>, wrong: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: valid, weight: 5 }, { arbitrary: wrong, weight: 1 });
const members = {
  redirect_uris: member(
    fc.array(fc.constantFrom("https://client.example/cb", "http://127.0.0.1/cb"), { maxLength: 3 }),
    list(fc.oneof(fc.constant("https://client.example/cb"), fc.string())),
  ),
  token_endpoint_auth_method: member(
    fc.constantFrom("none", "client_secret_basic", "client_secret_post", "private_key_jwt"),
    fc.oneof(fc.constant("NONE"), oddValue),
  ),
  grant_types: member(
    fc.array(fc.constantFrom("authorization_code", "refresh_token", "client_credentials"), { minLength: 1, maxLength: 3 }),
    list(fc.oneof(fc.constantFrom("authorization_code", "refresh_token"), oddValue)),
  ),
  response_types: member(fc.array(fc.constant("code"), { maxLength: 2 }), list(fc.oneof(fc.constant("code"), oddValue))),
  application_type: member(fc.constantFrom("web", "native"), fc.oneof(fc.constant("Web"), oddValue)),
  client_name: member(fc.string({ minLength: 1, maxLength: 40 }), fc.oneof(sized, oddValue)),
  client_uri: member(goodURL, fc.oneof(url, oddValue)),
  logo_uri: member(goodURL, url),
  scope: member(fc.string({ maxLength: 40 }), fc.oneof(sized, oddValue)),
  contacts: member(fc.array(fc.emailAddress(), { maxLength: 3 }), list(fc.oneof(sized, oddValue))),
  tos_uri: member(goodURL, url),
  policy_uri: member(goodURL, url),
  software_id: member(fc.string({ maxLength: 40 }), fc.oneof(sized, oddValue)),
  software_version: member(fc.string({ maxLength: 40 }), fc.oneof(sized, oddValue)),
  jwks: member(
    fc.record({ keys: fc.array(fc.object({ maxDepth: 1 }), { minLength: 1, maxLength: 3 }) }),
    fc.oneof(fc.record({ keys: list(jwk), use: fc.string() }, { requiredKeys: [] }), oddValue),
  ),
  jwks_uri: member(goodURL, fc.oneof(url, oddValue)),
};
const metadata = fc
  .tuple(fc.record(members, { requiredKeys: [] }), fc.dictionary(fc.string(), oddValue, { maxKeys: 3 }))
  .map(([known, extra]) => ({ ...extra, ...known }) as Record<string, unknown>);

describe("Client metadata members (RFC 7591 §2)", () => {
  it("agrees with the schema it replaced on every input: the values, defaults and key order, or the first error word for word", () => {
    fc.assert(
      fc.property(metadata, (raw) => {
        expect(byHand(raw)).toStrictEqual(bySchema(raw));
      }),
      { numRuns: 3000 },
    );
  });

  it("agrees with it on each member alone, wrong or right", () => {
    for (const [name, values] of Object.entries(members)) {
      fc.assert(
        fc.property(values, (value) => {
          expect(byHand({ [name]: value })).toStrictEqual(bySchema({ [name]: value }));
        }),
        { numRuns: 500 },
      );
    }
  });

  it("fills in the defaults and drops unknown members", () => {
    expect(readMetadataFields({ extra: 1, client_secret: "x" })).toStrictEqual({
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: ["authorization_code"],
    });
  });

  it("keeps a member sent as undefined (a registration policy may answer so), and copies arrays and JWKs", () => {
    const keys = [{ kty: "EC", x: "a" }];
    const redirects = ["https://client.example/cb"];
    const fields = readMetadataFields({
      client_name: undefined,
      redirect_uris: redirects,
      token_endpoint_auth_method: "private_key_jwt",
      jwks: { keys, more: 1 },
    });
    expect(fields).toStrictEqual({
      redirect_uris: redirects,
      token_endpoint_auth_method: "private_key_jwt",
      grant_types: ["authorization_code"],
      client_name: undefined,
      jwks: { keys },
    });
    expect("client_name" in fields).toBe(true);
    expect(fields.redirect_uris).not.toBe(redirects);
    expect(fields.jwks?.keys[0]).not.toBe(keys[0]);
  });

  it("names the member, the index and the type received", () => {
    expect(refusal({ grant_types: "authorization_code" })).toEqual({
      code: "invalid_client_metadata",
      description: "grant_types: Invalid input: expected array, received string",
    });
    expect(refusal({ contacts: ["a@example.com", 7] })?.description).toBe("contacts.1: Invalid input: expected string, received number");
    expect(refusal({ client_name: null })?.description).toBe("client_name: Invalid input: expected string, received null");
    expect(refusal({ client_name: new Date(0) })?.description).toBe("client_name: Invalid input: expected string, received Date");
    expect(refusal({ scope: Number.NaN })?.description).toBe("scope: Invalid input: expected string, received NaN");
    expect(refusal({ jwks: { keys: [[]] } })?.description).toBe("jwks.keys.0: Invalid input: expected record, received array");
    expect(refusal({ jwks: {} })?.description).toBe("jwks.keys: Invalid input: expected array, received undefined");
    expect(refusal({ token_endpoint_auth_method: "secret" })?.description).toBe(
      "token_endpoint_auth_method: Invalid option: expected one of ?none?|?client_secret_basic?|?client_secret_post?|?private_key_jwt?",
    );
    expect(refusal({ redirect_uris: Array(21).fill("https://client.example/cb") })).toEqual({
      code: "invalid_redirect_uri",
      description: "redirect_uris: Too big: expected array to have <=20 items",
    });
  });

  it("refuses an array over its limit before looking at its elements, and an empty one where one is needed", () => {
    expect(refusal({ contacts: Array(21).fill(1) })?.description).toBe("contacts: Too big: expected array to have <=20 items");
    expect(refusal({ grant_types: [] })?.description).toBe("grant_types: Too small: expected array to have >=1 items");
    expect(refusal({ jwks: { keys: [] } })?.description).toBe("jwks.keys: Too small: expected array to have >=1 items");
    expect(refusal({ jwks: { keys: Array(11).fill({}) } })?.description).toBe("jwks.keys: Too big: expected array to have <=10 items");
  });

  it("counts string limits in code points, so 200 emoji make a valid name and 201 do not", () => {
    expect(refusal({ client_name: "😀".repeat(200) })).toBeUndefined();
    expect(refusal({ client_name: "😀".repeat(201) })?.description).toBe("client_name: Too big: expected string to have <=200 characters");
    expect(refusal({ client_name: "" })?.description).toBe("client_name: Too small: expected string to have >=1 characters");
    expect(refusal({ software_version: "a".repeat(101) })?.description).toBe("software_version: Too big: expected string to have <=100 characters");
  });

  it("reports the first member in error in the order RFC 7591 lists them here, whatever the order sent", () => {
    expect(refusal({ jwks_uri: "http://x", client_name: 1, grant_types: [] })?.description).toBe("grant_types: Too small: expected array to have >=1 items");
    expect(refusal({ logo_uri: "http://client.example/logo.png" })?.description).toBe("logo_uri: must be an https URL");
  });

  it("leaves out an own __proto__ member of a JWK, as JSON.parse makes it", () => {
    const fields = readMetadataFields(JSON.parse('{"jwks":{"keys":[{"kty":"EC","__proto__":{"polluted":true}}]}}'));
    expect(fields.jwks?.keys[0]).toStrictEqual({ kty: "EC" });
    expect(Object.getPrototypeOf(fields.jwks?.keys[0])).toBe(Object.prototype);
  });
});

describe("validateClientMetadata's result", () => {
  it("lists the members as checked, then the settled redirect URIs, response types, application type and JWKs", () => {
    const metadata = validateClientMetadata(
      {
        jwks_uri: "https://client.example/jwks",
        client_name: "Client",
        redirect_uris: ["https://client.example/cb"],
        token_endpoint_auth_method: "private_key_jwt",
        software_id: undefined,
        grant_types: ["authorization_code", "refresh_token"],
        extra: true,
      },
      { "mcp:tools": "Use the tools" },
    );
    expect(Object.keys(metadata)).toEqual([
      "token_endpoint_auth_method",
      "grant_types",
      "client_name",
      "software_id",
      "redirect_uris",
      "response_types",
      "application_type",
      "jwks_uri",
    ]);
    expect(metadata).toStrictEqual({
      token_endpoint_auth_method: "private_key_jwt",
      grant_types: ["authorization_code", "refresh_token"],
      client_name: "Client",
      software_id: undefined,
      redirect_uris: ["https://client.example/cb"],
      response_types: ["code"],
      application_type: "web",
      jwks_uri: "https://client.example/jwks",
    });
  });
});
