import { describe, expect, it } from "vitest";
import { basic, createTestServer, expectTokenError, form, ISSUER, RESOURCE, type Fetch } from "../helpers.js";
import { createMemoryStore, type AuthorizationServerOptions } from "../../src/index.js";
import { sha256 } from "../../src/lib/crypto.js";

const SCOPES = { "mcp:tools": "Use the tools", "mcp:admin": "Administer" };
const IAT = "operator-initial-access-token-0123456789";

function server(overrides: Partial<AuthorizationServerOptions> = {}) {
  return createTestServer({ scopes: SCOPES, ...overrides });
}

function register(fetch: Fetch, body: Record<string, unknown>, token?: string) {
  return fetch(`${ISSUER}/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

const machine = (scope?: string) => ({
  grant_types: ["client_credentials"],
  token_endpoint_auth_method: "client_secret_basic",
  client_name: "cron",
  ...(scope !== undefined ? { scope } : {}),
});

function machineToken(fetch: Fetch, client: { client_id: string; client_secret: string }, scope?: string) {
  return fetch(
    `${ISSUER}/token`,
    form({ grant_type: "client_credentials", ...(scope !== undefined ? { scope } : {}) }, { Authorization: basic(client.client_id, client.client_secret) }),
  );
}

describe("Machine clients need an operator (client_credentials)", () => {
  it("audit #1: anonymous registration of a client_credentials client asking for mcp:tools mcp:admin is refused, and no token follows", async () => {
    const t = server();
    const response = await register(t.fetch, machine("mcp:tools mcp:admin"));
    const body = await expectTokenError(response, "invalid_client_metadata");
    expect(String(body.error_description)).toMatch(/client_credentials/);
    expect(body).not.toHaveProperty("client_id");
    expect(body).not.toHaveProperty("client_secret");
    // The exploit's next step: nothing was registered, so nothing authenticates.
    const token = await t.fetch(
      `${ISSUER}/token`,
      form({ grant_type: "client_credentials", scope: "mcp:tools mcp:admin" }, { Authorization: basic("anything", "anything-anything") }),
    );
    await expectTokenError(token, "invalid_client", 401);
    expect(t.events.filter((e) => e.type === "client.registered")).toEqual([]);
  });

  it("audit #1: open registration refuses client_credentials mixed with user-delegated grants, and any other grant type", async () => {
    const t = server();
    for (const grant_types of [
      ["authorization_code", "refresh_token", "client_credentials"],
      ["authorization_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
      ["password"],
    ]) {
      const response = await register(t.fetch, { redirect_uris: ["https://app.test/cb"], token_endpoint_auth_method: "client_secret_basic", grant_types });
      await expectTokenError(response, "invalid_client_metadata");
    }
    // User-delegated clients still register openly.
    expect((await register(t.fetch, { redirect_uris: ["https://app.test/cb"], grant_types: ["authorization_code", "refresh_token"] })).status).toBe(201);
  });

  it("audit #1: a client registered openly cannot turn itself into a machine client through RFC 7592 update", async () => {
    const t = server();
    const registered = (await (await register(t.fetch, { redirect_uris: ["https://app.test/cb"], client_name: "app" })).json()) as Record<string, string>;
    const { registration_access_token: token, registration_client_uri: uri, client_secret: _secret, ...metadata } = registered;
    const response = await t.fetch(uri!, {
      method: "PUT",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ ...metadata, grant_types: ["authorization_code", "client_credentials"], scope: "mcp:admin" }),
    });
    await expectTokenError(response, "invalid_client_metadata");
  });

  it("audit #1: an initial access token creates a machine client only where the operator allowed machine clients", async () => {
    const closed = server({ dynamicRegistration: { initialAccessToken: IAT } });
    await expectTokenError(await register(closed.fetch, machine(), IAT), "invalid_client_metadata");

    const t = server({ dynamicRegistration: { initialAccessToken: IAT, allowMachineClients: true }, machineScopes: ["mcp:tools"] });
    expect((await register(t.fetch, machine())).status).toBe(401);
    const response = await register(t.fetch, machine("mcp:tools mcp:admin"), IAT);
    expect(response.status).toBe(201);
    const client = (await response.json()) as { client_id: string; client_secret: string };
    // Only what the operator allowed for machines, whatever the client registered.
    await expectTokenError(await machineToken(t.fetch, client, "mcp:tools mcp:admin"), "invalid_scope");
    await expectTokenError(await machineToken(t.fetch, client, "mcp:admin"), "invalid_scope");
    const ok = await machineToken(t.fetch, client, "mcp:tools");
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { scope: string }).scope).toBe("mcp:tools");
    // Asking for nothing gets the registered scopes the operator allows, never more.
    const none = await machineToken(t.fetch, client);
    expect(none.status).toBe(200);
    const token = (await none.json()) as { scope?: string; access_token: string };
    expect(token.scope).toBe("mcp:tools");
    const info = await t.server.verifyAccessToken(token.access_token, { resource: RESOURCE });
    expect(info.scopes).toEqual(["mcp:tools"]);
  });

  it("audit #1: machine scopes default to none: an operator-approved machine client gets no scope unless allow-listed", async () => {
    const t = server({ dynamicRegistration: { initialAccessToken: IAT, allowMachineClients: true } });
    const client = (await (await register(t.fetch, machine("mcp:tools"), IAT)).json()) as { client_id: string; client_secret: string };
    await expectTokenError(await machineToken(t.fetch, client, "mcp:tools"), "invalid_scope");
    const none = await machineToken(t.fetch, client);
    expect(none.status).toBe(200);
    expect(((await none.json()) as { scope?: string }).scope ?? "").toBe("");
  });

  it("audit #1: machineScopes must name offered scopes", () => {
    expect(() => server({ machineScopes: ["mcp:root"] })).toThrow(/machineScopes/);
    expect(() => server({ dynamicRegistration: { allowMachineClients: true } })).toThrow(/initialAccessToken/);
  });

  it("audit #1: a configured client's operator-set scope is its machine allow-list", async () => {
    const secret = "machine-secret-0123456789";
    const t = server({ clients: [{ client_id: "cron", client_secret: secret, grant_types: ["client_credentials"], scope: "mcp:tools" }] });
    const client = { client_id: "cron", client_secret: secret };
    expect((await machineToken(t.fetch, client, "mcp:tools")).status).toBe(200);
    await expectTokenError(await machineToken(t.fetch, client, "mcp:admin"), "invalid_scope");
    // Without a scope of its own, a configured machine client gets only machineScopes.
    const bare = server({ clients: [{ client_id: "cron", client_secret: secret, grant_types: ["client_credentials"] }] });
    await expectTokenError(await machineToken(bare.fetch, client, "mcp:tools"), "invalid_scope");
  });

  it("audit #1: a registration policy can refuse with a reason, change the metadata, or approve a machine client", async () => {
    const seen: { operation: string; initialAccessToken: boolean }[] = [];
    const t = server({
      machineScopes: ["mcp:tools"],
      dynamicRegistration: {
        policy: (metadata, context) => {
          seen.push({ operation: context.operation, initialAccessToken: context.initialAccessToken });
          if (metadata.client_name === "evil") return { allow: false, reason: "this client name is not welcome" };
          if (metadata.client_name === "robot") return { allow: true, machineClient: true, metadata: { ...metadata, scope: "mcp:tools" } };
          return { allow: true, metadata: { ...metadata, client_name: `${metadata.client_name ?? "app"} (reviewed)` } };
        },
      },
    });
    const refused = await expectTokenError(await register(t.fetch, { redirect_uris: ["https://app.test/cb"], client_name: "evil" }), "invalid_client_metadata");
    expect(refused.error_description).toBe("this client name is not welcome");
    const changed = (await (await register(t.fetch, { redirect_uris: ["https://app.test/cb"], client_name: "app" })).json()) as { client_name: string };
    expect(changed.client_name).toBe("app (reviewed)");
    // Approving without machineClient keeps the rule: no client_credentials.
    await expectTokenError(await register(t.fetch, { ...machine(), client_name: "cron" }), "invalid_client_metadata");
    const robot = await register(t.fetch, { ...machine("mcp:tools mcp:admin"), client_name: "robot" });
    expect(robot.status).toBe(201);
    const client = (await robot.json()) as { client_id: string; client_secret: string; scope: string };
    expect(client.scope).toBe("mcp:tools");
    expect((await machineToken(t.fetch, client, "mcp:tools")).status).toBe(200);
    expect(seen[0]).toEqual({ operation: "register", initialAccessToken: false });
  });

  it("audit #1: a registered machine client without an operator's approval on record (registered openly before) gets no token", async () => {
    const storage = createMemoryStore();
    const t = server({ storage, machineScopes: ["mcp:tools"] });
    const secret = "legacy-secret-0123456789";
    const metadata = {
      client_id: "legacy",
      redirect_uris: [],
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: ["client_credentials"],
      response_types: [],
    };
    await storage.set("client:legacy", { metadata, secretHash: await sha256(secret) });
    await expectTokenError(await machineToken(t.fetch, { client_id: "legacy", client_secret: secret }, "mcp:tools"), "unauthorized_client");
    await storage.set("client:legacy", { metadata, secretHash: await sha256(secret), machineClient: true });
    expect((await machineToken(t.fetch, { client_id: "legacy", client_secret: secret }, "mcp:tools")).status).toBe(200);
  });

  it("audit #1: registered scope metadata must be offered by the server", async () => {
    const t = server();
    await expectTokenError(await register(t.fetch, { redirect_uris: ["https://app.test/cb"], scope: "mcp:tools mcp:root" }), "invalid_client_metadata");
  });
});
