import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, callbackServer, launchChromium, signInThenDecide, type RunningExample } from "./e2e.js";
import { authorizationUrl, E2E_USER } from "./http-flow.js";

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const WIDTHS = [375, 1280] as const;

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/** axe-core's serious and critical violations on the page (run through the DevTools protocol, which the page's CSP does not govern). */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  const result = (await page.evaluate("axe.run(document, { resultTypes: ['violations'] })")) as { violations: AxeViolation[] };
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
}

/**
 * Checks the page the browser shows at 375 and 1280 px: no serious or critical axe-core
 * violation, a title, a `lang`, no horizontal scrolling with side margins, no script; saves a
 * screenshot of each width as `<artefacts>/<name>-<width>.png`.
 */
async function checkPage(page: Page, name: string, artefacts: string): Promise<void> {
  const html = await page.content();
  expect(html, name).not.toMatch(/<script/i);
  expect(await page.title(), name).not.toBe("");
  expect(await page.getAttribute("html", "lang"), name).toMatch(/^[a-z]{2}/);
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    const layout = await page.evaluate(() => {
      const main = document.querySelector("main")!.getBoundingClientRect();
      return {
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
        left: main.left,
        right: document.documentElement.clientWidth - main.right,
      };
    });
    expect(layout.scroll, `${name} at ${width}px scrolls sideways`).toBeLessThanOrEqual(layout.client);
    expect(layout.left, `${name} at ${width}px has a left margin`).toBeGreaterThanOrEqual(8);
    expect(layout.right, `${name} at ${width}px has a right margin`).toBeGreaterThanOrEqual(8);
    expect(await seriousViolations(page), `${name} at ${width}px`).toEqual([]);
    await page.screenshot({ path: join(artefacts, `${name}-${width}.png`), fullPage: true });
  }
}

/**
 * The built-in pages in a real browser, for an example: separate login and consent steps, the
 * session (no password the second time; this public loopback client is asked to consent again,
 * RFC 8252 §8.6), the account page
 * and its Revoke, the French catalogue, and on every page (login, consent, error, account) zero
 * serious or critical axe-core violations, a title and `lang`, no sideways scrolling at 375 px,
 * with screenshots at 375 and 1280 px in `artefacts` (gitignored). `start` runs the example with
 * `SESSION_TTL_SECONDS=3600`, the session lifetime the test expects.
 */
export function describePagesE2E(name: string, start: () => Promise<RunningExample>, artefacts: string): void {
  const browserMissing = !existsSync(CHROMIUM);
  describe.skipIf(browserMissing)(`Built-in pages in Chromium: ${name}`, () => {
    let example: RunningExample;
    let browser: Browser;
    let callback: Awaited<ReturnType<typeof callbackServer>>;
    let clientId: string;

    beforeAll(async () => {
      mkdirSync(artefacts, { recursive: true });
      [example, browser, callback] = await Promise.all([start(), launchChromium(), callbackServer()]);
      const registered = await fetch(`${example.url}/register`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          client_name: "Pages test client",
          redirect_uris: [callback.redirectUrl],
          token_endpoint_auth_method: "none",
          grant_types: ["authorization_code", "refresh_token"],
          logo_uri: "https://logo.example/brand.png",
        }),
      });
      clientId = ((await registered.json()) as { client_id: string }).client_id;
    }, 90_000);
    afterAll(async () => {
      await Promise.all([example?.stop(), browser?.close(), callback?.close()]);
    });

    const authorizeUrl = (params: Record<string, string> = {}) =>
      authorizationUrl(example.url, { clientId, redirectUri: callback.redirectUrl }, { state: "pages-state", ...params }).url.href;
    const toCallback = (page: Page) => page.waitForURL(/127\.0\.0\.1:\d+\/callback/);

    it("login, then consent, then a session (a public loopback client is asked again, RFC 8252 §8.6); the account page lists and revokes; each page passes axe at 375 and 1280 px", async () => {
      const context: BrowserContext = await browser.newContext({ locale: "en-US" });
      const page = await context.newPage();

      // 1. The login page: username, password, one submit button.
      await page.goto(authorizeUrl());
      expect(await page.locator("form input:not([type=hidden])").evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).name))).toEqual([
        "username",
        "password",
      ]);
      expect(await page.locator("form button").count()).toBe(1);
      await checkPage(page, "login", artefacts);

      // 2. The consent page: no password field; client, logo, redirect host, scope descriptions.
      await page.fill('input[name="username"]', E2E_USER.username);
      await page.fill('input[name="password"]', E2E_USER.password);
      const [loggedIn] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/authorize/login")), page.click('form button[type="submit"]')]);
      const sessionCookie = (await loggedIn.headerValue("set-cookie")) ?? "";
      expect(sessionCookie).toMatch(/portcullis-session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=3600$/);
      await page.waitForURL(/\/authorize\/consent\?/);
      expect(await page.locator('input[name="password"]').count()).toBe(0);
      const consentHtml = await page.content();
      expect(consentHtml).toContain("Pages test client");
      expect(consentHtml).toContain('<img src="https://logo.example/brand.png"');
      expect(consentHtml).toContain("Use the MCP server's tools");
      expect(await page.locator("[data-redirect-host]").textContent()).toBe(`127.0.0.1:${new URL(callback.redirectUrl).port}`);
      expect(await page.locator('form[action$="/authorize/consent"] input[name="csrf_token"]').count()).toBe(1);
      await checkPage(page, "consent", artefacts);
      const code = callback.next();
      await Promise.all([toCallback(page), page.click('button[name="decision"][value="allow"]')]);
      expect((await code).get("code")).toBeTruthy();

      // 3. A second authorization in this browser: signed in, so no password; but a public client
      // on a loopback redirect cannot prove who it is (any local program could use its client_id),
      // so the consent page asks again rather than sending a code straight back (RFC 8252 §8.6).
      await page.goto(authorizeUrl({ state: "second" }));
      await page.waitForURL(/\/authorize(\/consent)?\?/);
      expect(await page.locator('input[name="password"]').count()).toBe(0);
      const again = callback.next();
      await Promise.all([toCallback(page), page.click('button[name="decision"][value="allow"]')]);
      const second = await again;
      expect(second.get("code")).toBeTruthy();
      expect(second.get("state")).toBe("second");
      expect(second.get("iss")).toBe(example.url);

      // 4. prompt=consent asks again, without the password.
      await page.goto(authorizeUrl({ prompt: "consent" }));
      expect(await page.locator('button[name="decision"][value="allow"]').count()).toBe(1);
      expect(await page.locator('input[name="password"]').count()).toBe(0);

      // 5. The account page lists the client; Revoke takes it off.
      await page.goto(`${example.url}/account`);
      const app = page.locator("li[data-client-id]", { hasText: "Pages test client" });
      expect(await app.count()).toBe(1);
      expect(await app.locator("time").getAttribute("datetime")).toMatch(/^\d{4}-\d\d-\d\dT/);
      await checkPage(page, "account", artefacts);
      await Promise.all([page.waitForURL(`${example.url}/account`), app.locator("button[data-revoke]").click()]);
      expect(await page.locator("li[data-client-id]", { hasText: "Pages test client" }).count()).toBe(0);
      await context.close();
    });

    it("an error page and the French catalogue pass axe too; /account without a session leads through the login page back to it", async () => {
      const context = await browser.newContext({ locale: "fr-FR" });
      const page = await context.newPage();
      await page.goto(`${example.url}/authorize?client_id=unknown-client&response_type=code`);
      expect(await page.locator("[role=alert]").count()).toBe(1);
      await checkPage(page, "error", artefacts);
      // An error for a client nobody vouched for: the page in front of the redirect.
      await page.goto(authorizeUrl({ scope: "unknown:scope" }));
      expect(await page.locator("a[data-continue]").getAttribute("href")).toContain("error=invalid_scope");
      await checkPage(page, "error-untrusted-client", artefacts);

      await page.goto(`${example.url}/account`);
      expect(await page.getAttribute("html", "lang")).toBe("fr");
      expect(await page.locator('form button[type="submit"]').textContent()).toBe("Se connecter");
      await checkPage(page, "login-fr", artefacts);
      await page.fill('input[name="username"]', E2E_USER.username);
      await page.fill('input[name="password"]', E2E_USER.password);
      await Promise.all([page.waitForURL(`${example.url}/account`), page.click('form button[type="submit"]')]);
      expect(await page.locator("h1").textContent()).toBe("Applications connectées");
      await context.close();
    });

    it("a denied consent in the two-step flow is access_denied at the client", async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const denied = callback.next();
      await page.goto(authorizeUrl({ scope: "mcp:tools mcp:admin" }));
      await signInThenDecide(page, "deny", E2E_USER.password, E2E_USER.username);
      expect((await denied).get("error")).toBe("access_denied");
      await context.close();
    });
  });
}
