import { randomToken } from "../lib/crypto.js";
import { fill, type Localized, type PageMessages } from "./messages.js";

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The look of the built-in pages: a logo, colours, and CSS of the app's own, added last. */
export interface PageTheme {
  /** An https URL (or a path on this server) of the service's logo, shown above every page. */
  logoUrl?: string | undefined;
  /** CSS colours: the buttons' and links' accent, the page background and text. */
  colors?: { accent?: string | undefined; background?: string | undefined; text?: string | undefined } | undefined;
  /** CSS appended to the built-in style sheet (it carries the page's nonce: no inline script is ever allowed). */
  css?: string | undefined;
}

/** What every page needs besides its own content: the language and the theme. */
export interface PageUi extends Localized {
  serviceName: string;
  theme: PageTheme;
}

const STYLE = `
:root{color-scheme:light dark;font-family:system-ui,-apple-system,"Segoe UI",sans-serif;line-height:1.5;--pc-accent:#0b5cd5;--pc-accent-text:#fff;--pc-bg:Canvas;--pc-text:CanvasText}
*{box-sizing:border-box}
body{margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center;background:var(--pc-bg);color:var(--pc-text);padding:1rem}
main{width:100%;max-width:30rem;padding:1.5rem;border:1px solid color-mix(in srgb,var(--pc-text) 25%,transparent);border-radius:12px}
h1{font-size:1.35rem;margin:0 0 1rem;overflow-wrap:anywhere}
p,ul{margin:.5rem 0;overflow-wrap:anywhere}
.brand{display:block;max-height:3rem;max-width:100%;margin:0 0 1rem}
.client{display:flex;gap:.75rem;align-items:center}
.client img{width:3rem;height:3rem;object-fit:contain;border-radius:8px;flex:none}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.25rem .75rem;margin:1rem 0}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input{width:100%;padding:.55rem;font:inherit;border-radius:6px;border:1px solid GrayText;background:Field;color:FieldText}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1.25rem}
button{flex:1;min-width:8rem;padding:.65rem;font:inherit;font-weight:600;border-radius:6px;border:1px solid GrayText;cursor:pointer;background:ButtonFace;color:ButtonText}
button.primary{background:var(--pc-accent);color:var(--pc-accent-text);border-color:var(--pc-accent)}
a{color:inherit}
a.button{display:block;margin-top:1.25rem;padding:.65rem;text-align:center;font-weight:600;border-radius:6px;border:1px solid GrayText;color:inherit;text-decoration:none}
.error{padding:.6rem .8rem;border-radius:6px;background:color-mix(in srgb,#d1242f 15%,var(--pc-bg));border:1px solid #d1242f}
.warning{padding:.6rem .8rem;border-radius:6px;background:color-mix(in srgb,#bf8700 15%,var(--pc-bg));border:1px solid #bf8700}
.apps{list-style:none;padding:0}
.apps li{border-top:1px solid color-mix(in srgb,var(--pc-text) 20%,transparent);padding:.75rem 0}
.apps h2{font-size:1.1rem;margin:0 0 .25rem}
.apps form{margin:.5rem 0 0}
.apps button{flex:none}
.signout{margin-top:1.5rem}
code{font-size:.95em;overflow-wrap:anywhere}
`;

/** A CSS value the theme may set: no way out of its declaration. */
function cssValue(value: string | undefined): string | undefined {
  return value !== undefined && /^[#(),.%\w\s-]{1,64}$/.test(value) ? value : undefined;
}

function themeCss(theme: PageTheme): string {
  const c = theme.colors ?? {};
  const vars = [
    cssValue(c.accent) ? `--pc-accent:${cssValue(c.accent)}` : "",
    cssValue(c.background) ? `--pc-bg:${cssValue(c.background)}` : "",
    cssValue(c.text) ? `--pc-text:${cssValue(c.text)}` : "",
  ].filter(Boolean);
  const own = (theme.css ?? "").replace(/<\//g, "<\\/");
  return `${vars.length ? `:root{${vars.join(";")}}` : ""}${own}`;
}

/**
 * An image URL a page may show and its CSP may name: https, with nothing that could end the CSP
 * source expression or the attribute. Answers the URL as a CSP source, or undefined.
 */
export function imageSource(url: string | undefined): string | undefined {
  if (!url) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== "https:" || parsed.username || parsed.password || /[;,'"\s]/.test(parsed.href)) return undefined;
  return parsed.href;
}

/** A page response with the browser-surface headers every Portcullis page carries. */
export function pageResponse(
  html: (nonce: string) => string,
  init: { status?: number; headers?: HeadersInit; formAction?: string[]; images?: string[] } = {},
): Response {
  const nonce = randomToken(16);
  const headers = new Headers(init.headers);
  const formAction = ["'self'", ...(init.formAction ?? [])].join(" ");
  const images = ["'self'", ...(init.images ?? [])].join(" ");
  headers.set("Content-Type", "text/html; charset=utf-8");
  headers.set("Cache-Control", "no-store");
  headers.set(
    "Content-Security-Policy",
    `default-src 'none'; style-src 'nonce-${nonce}'; img-src ${images}; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
  );
  headers.set("X-Frame-Options", "DENY");
  headers.set("Referrer-Policy", "no-referrer");
  headers.set("X-Content-Type-Options", "nosniff");
  return new Response(html(nonce), { status: init.status ?? 200, headers });
}

const ENGLISH: PageUi = { lang: "en", t: {} as PageMessages, serviceName: "Portcullis", theme: {} };

function layout(title: string, body: string, nonce: string, ui: Pick<PageUi, "lang" | "theme"> = ENGLISH): string {
  const logo = ui.theme.logoUrl ? `<img class="brand" src="${escapeHtml(ui.theme.logoUrl)}" alt="">` : "";
  return `<!doctype html>
<html lang="${escapeHtml(ui.lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style nonce="${nonce}">${STYLE}${themeCss(ui.theme)}</style>
</head>
<body>
<main>
${logo}${body}
</main>
</body>
</html>`;
}

/** The theme logo's CSP source, when it is an absolute https URL (a path is 'self'). */
function themeImages(ui: PageUi): string[] {
  const source = imageSource(ui.theme.logoUrl);
  return source ? [source] : [];
}

/** A message with its placeholders filled (every value escaped here). */
function say(template: string, values: Record<string, string> = {}): string {
  return fill(escapeHtml(template), Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v])));
}

/** The page shown when an authorization request cannot be sent back to the client (in English; with the theme when given). */
export function errorPage(serviceName: string, message: string, status = 400, headers?: HeadersInit, theme: PageTheme = {}): Response {
  const source = imageSource(theme.logoUrl);
  return pageResponse(
    (nonce) =>
      layout(
        `Sign-in error - ${serviceName}`,
        `<h1>This sign-in request cannot continue</h1>
<p role="alert" class="error">${escapeHtml(message)}</p>
<p>Return to the application and start again.</p>`,
        nonce,
        { lang: "en", theme },
      ),
    { status, ...(headers ? { headers } : {}), ...(source ? { images: [source] } : {}) },
  );
}

/** What the page in front of an error for an untrusted client shows. */
export interface ErrorInterstitialView {
  serviceName: string;
  clientName: string;
  clientId: string;
  /** Where the link goes: the client's redirect URI with the error response. */
  location: string;
  redirectHost: string;
  error: string;
  description?: string;
}

/**
 * The page shown instead of an automatic error redirect to a client nobody vouched for (OAuth 2.1
 * §7.12.2): it names the client and the host, and the user decides whether to go on. A plain
 * link, so nothing on this server changes when it is followed, and nothing happens unless the
 * user follows it.
 */
export function errorInterstitialPage(view: ErrorInterstitialView): Response {
  const description = view.description ? `: ${escapeHtml(view.description)}` : "";
  const body = `<h1>This sign-in request cannot continue</h1>
<p role="alert" class="error"><code>${escapeHtml(view.error)}</code>${description}</p>
<dl>
<dt>Application</dt><dd>${escapeHtml(view.clientName)} (<code>${escapeHtml(view.clientId)}</code>)</dd>
<dt>Returns to</dt><dd><code data-redirect-host>${escapeHtml(view.redirectHost)}</code></dd>
</dl>
<p class="warning">${escapeHtml(view.serviceName)} has not verified this application. Continue only if you trust <strong>${escapeHtml(view.redirectHost)}</strong>; otherwise close this page.</p>
<a class="button" data-continue href="${escapeHtml(view.location)}" rel="noreferrer">Return to ${escapeHtml(view.redirectHost)}</a>`;
  return pageResponse((nonce) => layout(`Sign-in error - ${view.serviceName}`, body, nonce));
}

/** What the login page shows and posts. */
export interface LoginView {
  action: string;
  requestId: string;
  csrf: string;
  /** The application the sign-in is for, when there is one. */
  clientName?: string;
  error?: string;
  username?: string;
}

/** The built-in login page: a username, a password and one submit button, nothing else. */
export function loginPage(ui: PageUi, view: LoginView, init: { status?: number; headers?: HeadersInit } = {}): Response {
  const { t } = ui;
  const body = `<h1>${say(t.signInHeading, { service: escapeHtml(ui.serviceName) })}</h1>
${view.clientName ? `<p>${say(t.signInIntro, { client: `<strong>${escapeHtml(view.clientName)}</strong>` })}</p>` : ""}
${view.error ? `<p role="alert" class="error">${escapeHtml(view.error)}</p>` : ""}
<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="request_id" value="${escapeHtml(view.requestId)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(view.csrf)}">
<label for="username">${say(t.username)}</label>
<input id="username" name="username" autocomplete="username" required autofocus value="${escapeHtml(view.username ?? "")}">
<label for="password">${say(t.password)}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<div class="actions">
<button type="submit" class="primary">${say(t.signIn)}</button>
</div>
</form>`;
  return pageResponse((nonce) => layout(fill(t.signInTitle, { service: ui.serviceName }), body, nonce, ui), { ...init, images: themeImages(ui) });
}

/** What the consent page shows and posts. */
export interface ConsentView {
  action: string;
  requestId: string;
  csrf: string;
  clientName: string;
  clientId: string;
  /** The client's `logo_uri`, shown only when https (and then allowed by the page's CSP, exactly). */
  logoUri?: string | undefined;
  /** For a client identified by its metadata document URL: the host that published it. */
  documentHost?: string;
  redirectHost: string;
  /** The full redirect URI (shown with an upstream provider: one static upstream client serves every MCP client). */
  redirectUri?: string;
  localhostOnly: boolean;
  resource: string;
  scopes: { name: string; description: string }[];
  /** The signed-in user: only consent is asked. */
  user?: { displayName: string };
  /** Where the user signs out (a form with the session's CSRF token), when the sign-in is a session. */
  logout?: { action: string; csrf: string };
  /** Sign-in happens next at this identity provider (its host), asked for these scopes: no password here. */
  upstream?: { host: string; scopes: string[] };
  error?: string;
}

/** The built-in consent page: no password field; the client, where it returns, and what it asks. */
export function consentPage(ui: PageUi, view: ConsentView, init: { status?: number; headers?: HeadersInit; formAction: string[] }): Response {
  const { t } = ui;
  const logo = imageSource(view.logoUri);
  const client = `<strong>${escapeHtml(view.clientName)}</strong>`;
  const scopes = view.scopes.length
    ? `<ul data-scopes>${view.scopes.map((s) => `<li data-scope="${escapeHtml(s.name)}">${escapeHtml(s.description)}</li>`).join("")}</ul>`
    : `<p>${say(t.noScopes)}</p>`;
  const who = view.upstream
    ? `<p data-upstream>${say(t.upstreamNext, { host: `<strong>${escapeHtml(view.upstream.host)}</strong>`, scopes: `<code>${escapeHtml(view.upstream.scopes.join(" "))}</code>` })}</p>`
    : view.user
      ? `<p data-user>${say(t.signedInAs, { user: `<strong>${escapeHtml(view.user.displayName)}</strong>` })}</p>`
      : "";
  const body = `<div class="client">${logo ? `<img src="${escapeHtml(logo)}" alt="" data-client-logo>` : ""}<h1>${say(t.consentHeading, { client })}</h1></div>
<p>${say(t.consentIntro, { client, resource: `<strong>${escapeHtml(view.resource)}</strong>` })}</p>
<dl>
<dt>${say(t.application)}</dt><dd>${escapeHtml(view.clientName)} (<code>${escapeHtml(view.clientId)}</code>)</dd>
${view.documentHost ? `<dt>${say(t.publishedBy)}</dt><dd><strong data-document-host>${escapeHtml(view.documentHost)}</strong></dd>` : ""}
<dt>${say(t.returnsTo)}</dt><dd><code data-redirect-host>${escapeHtml(view.redirectHost)}</code></dd>
${view.redirectUri ? `<dt>${say(t.redirectUri)}</dt><dd><code data-redirect-uri>${escapeHtml(view.redirectUri)}</code></dd>` : ""}
<dt>${say(t.resource)}</dt><dd><code>${escapeHtml(view.resource)}</code></dd>
</dl>
${view.localhostOnly ? `<p class="warning" data-warning="localhost">${say(t.localhostWarning, { host: `<code>${escapeHtml(view.redirectHost)}</code>` })}</p>` : ""}
<p>${say(t.asksFor)}</p>
${scopes}
${who}
${view.error ? `<p role="alert" class="error">${escapeHtml(view.error)}</p>` : ""}
<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="request_id" value="${escapeHtml(view.requestId)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(view.csrf)}">
<div class="actions">
<button type="submit" name="decision" value="allow" class="primary">${say(t.allow)}</button>
<button type="submit" name="decision" value="deny">${say(t.deny)}</button>
</div>
</form>
${view.logout ? signOutForm(view.logout, t.notYou) : ""}`;
  const images = [...themeImages(ui), ...(logo ? [logo] : [])];
  return pageResponse((nonce) => layout(fill(t.consentTitle, { service: ui.serviceName, client: view.clientName }), body, nonce, ui), { ...init, images });
}

function signOutForm(logout: { action: string; csrf: string }, label: string): string {
  return `<form method="post" action="${escapeHtml(logout.action)}" class="signout">
<input type="hidden" name="csrf_token" value="${escapeHtml(logout.csrf)}">
<button type="submit" data-logout>${say(label)}</button>
</form>`;
}

/** One application on the account page. */
export interface ConnectedApp {
  clientId: string;
  clientName: string;
  /** Descriptions of the scopes the user allowed it (the union). */
  scopes: { name: string; description: string }[];
  /** Last token issue or refresh, ms since the epoch. */
  lastUsedAt: number;
}

/** The account page: the applications the user allowed, each with a Revoke form. */
export function accountPage(
  ui: PageUi,
  view: { user: string; apps: ConnectedApp[]; csrf: string; revokeAction: string; logoutAction: string },
  init: { status?: number; headers?: HeadersInit } = {},
): Response {
  const { t } = ui;
  const apps = view.apps.length
    ? `<ul class="apps">${view.apps
        .map((app) => {
          const when = new Date(app.lastUsedAt);
          return `<li data-client-id="${escapeHtml(app.clientId)}">
<h2>${escapeHtml(app.clientName)}</h2>
<p><code>${escapeHtml(app.clientId)}</code></p>
<p>${say(t.permissions)}: ${app.scopes.length ? app.scopes.map((s) => `<span data-scope="${escapeHtml(s.name)}">${escapeHtml(s.description)}</span>`).join(", ") : "-"}</p>
<p>${say(t.lastUsed)}: <time datetime="${when.toISOString()}">${escapeHtml(when.toUTCString())}</time></p>
<form method="post" action="${escapeHtml(view.revokeAction)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(view.csrf)}">
<input type="hidden" name="client_id" value="${escapeHtml(app.clientId)}">
<button type="submit" data-revoke aria-label="${escapeHtml(`${t.revoke}: ${app.clientName}`)}">${say(t.revoke)}</button>
</form>
</li>`;
        })
        .join("\n")}</ul>`
    : `<p data-empty>${say(t.accountEmpty)}</p>`;
  const body = `<h1>${say(t.accountHeading)}</h1>
<p>${say(t.accountIntro, { user: `<strong>${escapeHtml(view.user)}</strong>` })}</p>
${apps}
${signOutForm({ action: view.logoutAction, csrf: view.csrf }, t.signOut)}`;
  return pageResponse((nonce) => layout(fill(t.accountTitle, { service: ui.serviceName }), body, nonce, ui), { ...init, images: themeImages(ui) });
}

/** After sign-out. */
export function signedOutPage(ui: PageUi, headers?: HeadersInit): Response {
  const { t } = ui;
  const body = `<h1>${say(t.signOut)}</h1>
<p role="status">${say(t.signedOutBody)}</p>`;
  return pageResponse((nonce) => layout(fill(t.signedOutTitle, { service: ui.serviceName }), body, nonce, ui), {
    ...(headers ? { headers } : {}),
    images: themeImages(ui),
  });
}
