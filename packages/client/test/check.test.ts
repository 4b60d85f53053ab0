import { afterEach, describe, expect, it } from "vitest";
import { CHECK_IDS, runChecks, type CheckId, type CheckReport } from "../src/check.js";
import { runCli } from "./cli-helpers.js";
import { startFakeServer, type Defect, type FakeServer } from "./fake-server.js";

const statuses = (report: CheckReport) => Object.fromEntries(report.checks.map((c) => [c.id, c.status]));

let server: FakeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function checkWith(defects: Defect[]) {
  server = await startFakeServer(defects);
  return runChecks(server.mcpUrl);
}

describe("portcullis check", () => {
  it("passes every check of a correct server, in the documented order", async () => {
    const report = await checkWith([]);
    expect(report.checks.map((c) => c.id)).toEqual([...CHECK_IDS]);
    expect(report.checks.filter((c) => c.status !== "pass")).toEqual([]);
    for (const c of report.checks) expect(c.spec).toMatch(/RFC|MCP|OAuth/);
  });

  it("finds metadata for an issuer with a path at the OIDC path-appended URL, the last in the MCP order", async () => {
    const report = await checkWith(["path-issuer"]);
    expect(report.checks.filter((c) => c.status !== "pass")).toEqual([]);
    const paths = server!.log.filter((e) => e.path.includes("well-known") && e.path.includes("tenant")).map((e) => e.path);
    expect(paths).toEqual([
      "/.well-known/oauth-authorization-server/tenant",
      "/.well-known/openid-configuration/tenant",
      "/tenant/.well-known/openid-configuration",
    ]);
  });

  // Each defect fails its own item only; later items that cannot run are WARN "skipped".
  const skippedAfter = (id: CheckId) => Object.fromEntries(CHECK_IDS.slice(CHECK_IDS.indexOf(id) + 1).map((later) => [later, "warn" as const]));
  const cases: [Defect, string, Partial<Record<string, "warn" | "fail">>][] = [
    ["open", "www-authenticate", {}],
    ["no-challenge", "www-authenticate", {}],
    ["resource-mismatch", "protected-resource-metadata", skippedAfter("protected-resource-metadata")],
    ["no-authorization-servers", "protected-resource-metadata", skippedAfter("protected-resource-metadata")],
    ["no-as-metadata", "authorization-server-metadata", skippedAfter("authorization-server-metadata")],
    ["issuer-mismatch", "issuer", {}],
    ["no-pkce", "pkce-s256", {}],
    ["registration-broken", "dynamic-registration", {}],
    ["token-error-500", "token-error", {}],
    ["token-error-wrong-code", "token-error", {}],
    ["open-redirect", "redirect-uri", {}],
  ];
  for (const [defect, failing, others] of cases) {
    it(`a server with one defect (${defect}) fails ${failing} only`, async () => {
      const report = await checkWith([defect]);
      const expected = Object.fromEntries(CHECK_IDS.map((id) => [id, id === failing ? "fail" : (others[id] ?? "pass")]));
      expect(statuses(report)).toEqual(expected);
    });
  }

  // SHOULD-level findings are warnings, never failures.
  const warnings: [Defect, string][] = [
    ["no-resource-metadata", ""],
    ["no-iss-support", "iss-parameter"],
    ["registration-200", "dynamic-registration"],
    ["token-error-no-store", "token-error"],
    ["no-registration", "client-registration-support"],
  ];
  for (const [defect, warned] of warnings) {
    it(`${defect} is ${warned ? `a WARN on ${warned}` : "no finding"}, never a FAIL`, async () => {
      const report = await checkWith([defect]);
      const expected = Object.fromEntries(CHECK_IDS.map((id) => [id, id === warned ? "warn" : "pass"]));
      if (defect === "no-registration") expected["dynamic-registration"] = "warn";
      expect(statuses(report)).toEqual(expected);
    });
  }

  it("C-8: never fetches a link-local resource_metadata; that challenge fails and discovery is skipped", async () => {
    server = await startFakeServer(["link-local-metadata"]);
    const seen: string[] = [];
    const report = await runChecks(server.mcpUrl, {
      fetch: ((input: RequestInfo | URL, init?: RequestInit) => {
        seen.push(String(input instanceof Request ? input.url : input));
        return fetch(input, init);
      }) as typeof fetch,
    });
    expect(seen.some((u) => u.includes("169.254"))).toBe(false);
    expect(report.checks[0]).toMatchObject({ id: "www-authenticate", status: "fail" });
    expect(report.checks.slice(1).every((c) => c.status === "warn")).toBe(true);
  });

  it("prints one PASS|WARN|FAIL line per check and exits 1 on a failure; --json prints the same checks", async () => {
    server = await startFakeServer(["issuer-mismatch"]);
    const human = await runCli(["check", server.mcpUrl]);
    expect(human.code).toBe(1);
    const lines = human.stdout.trim().split("\n");
    expect(lines.map((l) => l.split(" ").slice(0, 2).join(" "))).toEqual(CHECK_IDS.map((id) => `${id === "issuer" ? "FAIL" : "PASS"} ${id}`));
    const json = await runCli(["check", server.mcpUrl, "--json"]);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as CheckReport;
    expect(Object.keys(report)).toEqual(["url", "checks"]);
    expect(report.url).toBe(server.mcpUrl);
    expect(report.checks.map((c) => Object.keys(c))).toEqual(CHECK_IDS.map(() => ["id", "status", "message", "spec"]));
    expect(report.checks.map((c) => c.id)).toEqual([...CHECK_IDS]);
  });

  it("exits 0 for a correct server, 1 for a 200 without authentication, 2 for a 404 and for an unreachable URL", async () => {
    server = await startFakeServer([]);
    expect((await runCli(["check", server.mcpUrl])).code).toBe(0);
    const notFound = await runCli(["check", `${server.origin}/elsewhere`]);
    expect(notFound.code).toBe(2);
    expect(notFound.stderr).toMatch(/404/);
    await server.close();
    server = await startFakeServer(["open"]);
    expect((await runCli(["check", server.mcpUrl])).code).toBe(1);
    const origin = server.origin;
    await server.close();
    server = undefined;
    const unreachable = await runCli(["check", `${origin}/mcp`]);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stdout).toBe("");
  });
});
