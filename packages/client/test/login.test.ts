import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli, sessionFile, startCli, tempHome } from "./cli-helpers.js";
import { startFakeServer, type Defect, type FakeServer } from "./fake-server.js";

const servers: FakeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function fake(defects: Defect[] = []) {
  const server = await startFakeServer(defects);
  servers.push(server);
  return server;
}

/**
 * Runs `login --no-open` against a fake server whose /authorize redirects at once; `tamper`
 * rewrites the callback URL before the "browser" follows it.
 */
async function login(server: FakeServer, home: string, tamper: (callback: URL) => void = () => undefined, args: string[] = []) {
  const run = startCli(["login", server.mcpUrl, "--no-open", ...args], { PORTCULLIS_HOME: home });
  const line = await run.firstLine;
  if (!/^https?:\/\//.test(line)) return { result: await run.done, authorizeUrl: undefined };
  const authorizeUrl = new URL(line);
  const redirect = await fetch(authorizeUrl, { redirect: "manual" });
  const callback = new URL(redirect.headers.get("location")!);
  tamper(callback);
  const page = await fetch(callback).catch(() => undefined);
  return { result: await run.done, authorizeUrl, callback, page };
}

const redemptions = (server: FakeServer) => server.log.filter((e) => e.path === "/token" && e.form?.get("grant_type") === "authorization_code");
const authorizations = (server: FakeServer) => server.log.filter((e) => e.path === "/authorize");

describe("portcullis login (fake authorization server)", () => {
  it("C-4: sends resource on the authorization request and on the token request, with the PKCE verifier", async () => {
    const server = await fake();
    const home = tempHome();
    const { result, authorizeUrl } = await login(server, home);
    expect(result.code, result.stderr).toBe(0);
    expect(authorizeUrl!.searchParams.get("resource")).toBe(server.mcpUrl);
    const [redeem] = redemptions(server);
    expect(redeem!.form!.get("resource")).toBe(server.mcpUrl);
    expect(redeem!.form!.get("code_verifier")).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(redeem!.form!.get("redirect_uri")).toBe(authorizeUrl!.searchParams.get("redirect_uri"));
    expect((await runCli(["token", server.mcpUrl], { PORTCULLIS_HOME: home })).stdout).toMatch(/^fake-access-\d+\n$/);
  });

  it("scope selection: the resource's scopes_supported when the challenge names none", async () => {
    const server = await fake();
    const { authorizeUrl } = await login(server, tempHome());
    expect(authorizeUrl!.searchParams.get("scope")).toBe("mcp:tools");
    const explicit = await login(server, tempHome(), undefined, ["--scope", "a b"]);
    expect(explicit.authorizeUrl!.searchParams.get("scope")).toBe("a b");
  });

  it("a wrong state: the code is not redeemed and login fails", async () => {
    const server = await fake();
    const home = tempHome();
    const { result } = await login(server, home, (cb) => cb.searchParams.set("state", "forged"));
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/state/);
    expect(redemptions(server)).toEqual([]);
    expect(existsSync(join(home, "sessions")) && readdirSync(join(home, "sessions")).length).toBeFalsy();
  });

  const issCases: [string, FakeServer["issMode"]][] = [
    ["C-5: an iss with a trailing slash (no normalisation)", "trailing-slash"],
    ["C-5: another issuer's iss (mix-up)", "other"],
    ["C-5: no iss where the server advertises authorization_response_iss_parameter_supported", "missing"],
  ];
  for (const [title, mode] of issCases) {
    it(`${title}: the code is not redeemed and login fails`, async () => {
      const server = await fake();
      server.issMode = mode;
      const { result } = await login(server, tempHome());
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/iss/);
      expect(redemptions(server)).toEqual([]);
    });
  }

  it("C-5: an error response with a mismatched iss is reported as a rejected response, not as the error it claims", async () => {
    const server = await fake();
    const { result } = await login(server, tempHome(), (cb) => {
      cb.searchParams.delete("code");
      cb.searchParams.set("error", "access_denied");
      cb.searchParams.set("iss", "https://other.test");
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).not.toMatch(/access_denied/);
    expect(result.stderr).toMatch(/rejected/);
  });

  it("C-1: a resource metadata document naming another resource aborts before any authorization request", async () => {
    const server = await fake(["resource-mismatch"]);
    const { result, authorizeUrl } = await login(server, tempHome());
    expect(authorizeUrl).toBeUndefined();
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/resource/);
    expect(authorizations(server)).toEqual([]);
    expect(server.log.some((e) => e.path === "/register")).toBe(false);
  });

  it("C-2: authorization server metadata whose issuer differs from the one named (trailing slash) aborts", async () => {
    const server = await fake(["issuer-mismatch"]);
    const { result, authorizeUrl } = await login(server, tempHome());
    expect(authorizeUrl).toBeUndefined();
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/issuer/);
    expect(authorizations(server)).toEqual([]);
  });

  it("C-3: metadata without code_challenge_methods_supported: no authorization request", async () => {
    const server = await fake(["no-pkce"]);
    const { result, authorizeUrl } = await login(server, tempHome());
    expect(authorizeUrl).toBeUndefined();
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/PKCE|code_challenge_methods_supported/);
  });

  it("C-6: credentials are kept per issuer: a second authorization server gets its own registration, never the first's client_id", async () => {
    const a = await fake();
    const b = await fake();
    const home = tempHome();
    const first = await login(a, home);
    expect(first.result.code, first.result.stderr).toBe(0);
    const second = await login(b, home);
    expect(second.result.code, second.result.stderr).toBe(0);
    expect(b.log.filter((e) => e.path === "/register")).toHaveLength(1);
    const idA = first.authorizeUrl!.searchParams.get("client_id")!;
    expect(b.log.some((e) => e.query.get("client_id") === idA || e.form?.get("client_id") === idA)).toBe(false);
    // A third login to the first server reuses its registration.
    const third = await login(a, home);
    expect(third.authorizeUrl!.searchParams.get("client_id")).toBe(idA);
    expect(a.log.filter((e) => e.path === "/register")).toHaveLength(1);
  });

  it("finds the metadata of an issuer with a path at the OIDC path-appended URL and signs in", async () => {
    const server = await fake(["path-issuer"]);
    const home = tempHome();
    const { result } = await login(server, home);
    expect(result.code, result.stderr).toBe(0);
    expect(sessionFile(home).read().issuer).toBe(`${server.origin}/tenant`);
  });

  it("logout revokes at the revocation endpoint and deletes the session; token then exits 1", async () => {
    const server = await fake();
    const home = tempHome();
    await login(server, home);
    const { refresh_token } = sessionFile(home).read();
    const out = await runCli(["logout", server.mcpUrl], { PORTCULLIS_HOME: home });
    expect(out.code).toBe(0);
    expect(server.log.filter((e) => e.path === "/revoke").map((e) => e.form!.get("token"))).toContain(refresh_token);
    expect(readdirSync(join(home, "sessions"))).toEqual([]);
    const token = await runCli(["token", server.mcpUrl], { PORTCULLIS_HOME: home });
    expect(token.code).toBe(1);
  });
});
