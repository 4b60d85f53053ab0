import { describe, expect, it } from "vitest";
import { createTestServer, expectTokenError, ISSUER } from "../helpers.js";
import { createMemoryStore, type Storage } from "../../src/index.js";
import { StorageError, withStorageErrors } from "../../src/storage/guarded.js";

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

function registerRaw(fetch: (input: string, init?: RequestInit) => Promise<Response>, body: string) {
  return fetch(`${ISSUER}/register`, { method: "POST", headers: { "Content-Type": "application/json" }, body });
}

describe("Deeply nested JSON and error classification", () => {
  it("audit #8: a registration whose jwks nests 20,000 levels is 400 invalid_client_metadata, not 503 storage unavailable", async () => {
    const errors: unknown[] = [];
    const t = createTestServer({ onError: (error) => errors.push(error) });
    const body = `{"redirect_uris":["https://app.test/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{"kty":"EC","crv":"P-256","x":${nested(20_000)}}]}}`;
    const response = await registerRaw(t.fetch, body);
    const error = await expectTokenError(response, "invalid_client_metadata");
    expect(String(error.error_description)).toMatch(/nest/);
    expect(response.headers.get("Retry-After")).toBeNull();
    expect(errors).toEqual([]);
  });

  it("audit #8: any deeply nested field, object or array, is refused before validation, on registration and update", async () => {
    const t = createTestServer();
    const deepObject = `${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}`;
    for (const value of [nested(20_000), nested(33), deepObject]) {
      await expectTokenError(
        await registerRaw(t.fetch, `{"redirect_uris":["https://app.test/cb"],"software_statement_extra":${value}}`),
        "invalid_client_metadata",
      );
    }
    const registered = (await (await registerRaw(t.fetch, '{"redirect_uris":["https://app.test/cb"]}')).json()) as Record<string, string>;
    const update = await t.fetch(registered.registration_client_uri!, {
      method: "PUT",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${registered.registration_access_token}` },
      body: `{"client_id":"${registered.client_id}","redirect_uris":["https://app.test/cb"],"x":${nested(20_000)}}`,
    });
    await expectTokenError(update, "invalid_client_metadata");
  });

  it("audit #8: ordinary nesting and brackets inside strings still register", async () => {
    const t = createTestServer();
    const body = JSON.stringify({ redirect_uris: ["https://app.test/cb"], client_name: `${"[{".repeat(90)}"\\`, extra: [[[[{ a: [1] }]]]] });
    expect((await registerRaw(t.fetch, body)).status).toBe(201);
  });

  it("audit #8: a RangeError, TypeError or ReferenceError inside a store call is our bug, answered 500 through onError; a store failure is 503", async () => {
    for (const [thrown, status] of [
      [new RangeError("Maximum call stack size exceeded"), 500],
      [new TypeError("x is not a function"), 500],
      [new ReferenceError("y is not defined"), 500],
      [new Error("connect ECONNREFUSED 127.0.0.1:6379"), 503],
    ] as const) {
      const inner = createMemoryStore();
      const storage: Storage = { ...inner, set: async () => Promise.reject(thrown) } as Storage;
      const errors: unknown[] = [];
      const t = createTestServer({ storage, onError: (error) => errors.push(error) });
      const response = await registerRaw(t.fetch, '{"redirect_uris":["https://app.test/cb"]}');
      const body = await expectTokenError(response, "server_error", status);
      if (status === 500) {
        expect(body.error_description).not.toMatch(/storage/);
        expect(response.headers.get("Retry-After")).toBeNull();
        expect(errors).toContain(thrown);
      } else {
        expect(body.error_description).toMatch(/storage/);
        expect(response.headers.get("Retry-After")).toBe("5");
        expect(errors[0]).toBeInstanceOf(StorageError);
      }
    }
  });

  it("audit #8: an exception outside the store (here a SyntaxError from a registration policy) is a 500 server_error through onError", async () => {
    const errors: unknown[] = [];
    const thrown = new SyntaxError("Unexpected token");
    const t = createTestServer({
      onError: (error) => errors.push(error),
      dynamicRegistration: {
        policy: () => {
          throw thrown;
        },
      },
    });
    const response = await registerRaw(t.fetch, '{"redirect_uris":["https://app.test/cb"]}');
    const body = await expectTokenError(response, "server_error", 500);
    expect(body.error_description).not.toMatch(/storage/);
    expect(errors).toEqual([thrown]);
  });

  it("audit #8: withStorageErrors wraps only failures of the store itself", async () => {
    const failing = (error: unknown) => withStorageErrors({ ...createMemoryStore(), get: async () => Promise.reject(error) } as Storage);
    await expect(failing(new RangeError("deep")).get("k")).rejects.toBeInstanceOf(RangeError);
    await expect(failing(new Error("ECONNRESET")).get("k")).rejects.toBeInstanceOf(StorageError);
    await expect(failing("a string").get("k")).rejects.toBeInstanceOf(StorageError);
  });
});
