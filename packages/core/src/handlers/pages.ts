import { randomToken } from "../lib/crypto.js";

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
:root{color-scheme:light dark;font-family:system-ui,-apple-system,"Segoe UI",sans-serif;line-height:1.5}
body{margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center;background:Canvas;color:CanvasText}
main{width:min(28rem,100% - 2rem);padding:2rem;border:1px solid color-mix(in srgb,CanvasText 20%,transparent);border-radius:12px}
h1{font-size:1.35rem;margin:0 0 1rem}
p,ul{margin:.5rem 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem .75rem;margin:1rem 0}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input{box-sizing:border-box;width:100%;padding:.55rem;font:inherit;border-radius:6px;border:1px solid GrayText}
.actions{display:flex;gap:.75rem;margin-top:1.25rem}
button{flex:1;padding:.65rem;font:inherit;font-weight:600;border-radius:6px;border:1px solid GrayText;cursor:pointer}
button[value=allow]{background:#1f6feb;color:#fff;border-color:#1f6feb}
a.button{display:block;margin-top:1.25rem;padding:.65rem;text-align:center;font-weight:600;border-radius:6px;border:1px solid GrayText;color:inherit;text-decoration:none}
.error{padding:.6rem .8rem;border-radius:6px;background:color-mix(in srgb,#d1242f 15%,Canvas);border:1px solid #d1242f}
.warning{padding:.6rem .8rem;border-radius:6px;background:color-mix(in srgb,#bf8700 15%,Canvas);border:1px solid #bf8700}
code{font-size:.95em}
`;

/** A page response with the browser-surface headers every Portcullis page carries. */
export function pageResponse(html: (nonce: string) => string, init: { status?: number; headers?: HeadersInit; formAction?: string[] } = {}): Response {
  const nonce = randomToken(16);
  const headers = new Headers(init.headers);
  const formAction = ["'self'", ...(init.formAction ?? [])].join(" ");
  headers.set("Content-Type", "text/html; charset=utf-8");
  headers.set("Cache-Control", "no-store");
  headers.set(
    "Content-Security-Policy",
    `default-src 'none'; style-src 'nonce-${nonce}'; img-src 'self'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
  );
  headers.set("X-Frame-Options", "DENY");
  headers.set("Referrer-Policy", "no-referrer");
  headers.set("X-Content-Type-Options", "nosniff");
  return new Response(html(nonce), { status: init.status ?? 200, headers });
}

function layout(title: string, body: string, nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

/** The page shown when an authorization request cannot be sent back to the client. */
export function errorPage(serviceName: string, message: string, status = 400, headers?: HeadersInit): Response {
  return pageResponse(
    (nonce) =>
      layout(
        `Sign-in error - ${serviceName}`,
        `<h1>This sign-in request cannot continue</h1>
<p role="alert" class="error">${escapeHtml(message)}</p>
<p>Return to the application and start again.</p>`,
        nonce,
      ),
    { status, ...(headers ? { headers } : {}) },
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

/** What the consent page shows and posts. */
export interface ConsentView {
  serviceName: string;
  action: string;
  requestId: string;
  csrf: string;
  clientName: string;
  clientId: string;
  /** For a client identified by its metadata document URL: the host that published it. */
  documentHost?: string;
  redirectHost: string;
  /** The full redirect URI (shown with an upstream provider: one static upstream client serves every MCP client). */
  redirectUri?: string;
  localhostOnly: boolean;
  resource: string;
  scopes: { name: string; description: string }[];
  /** A user already signed in to the app: only consent is asked. */
  user?: { displayName: string };
  /** Sign-in happens next at this identity provider (its host), asked for these scopes: no password here. */
  upstream?: { host: string; scopes: string[] };
  error?: string;
  username?: string;
}

/** The built-in login and consent page. */
export function consentPage(view: ConsentView, init: { status?: number; headers?: HeadersInit; formAction: string[] }): Response {
  const scopes = view.scopes.length
    ? `<ul>${view.scopes.map((s) => `<li><code>${escapeHtml(s.name)}</code>: ${escapeHtml(s.description)}</li>`).join("")}</ul>`
    : `<p>No specific permissions; it will know who you are.</p>`;
  const login = view.upstream
    ? `<p data-upstream>After you allow it, you sign in at <strong>${escapeHtml(view.upstream.host)}</strong>, which is asked for <code>${escapeHtml(view.upstream.scopes.join(" "))}</code>.</p>`
    : view.user
      ? `<p>Signed in as <strong>${escapeHtml(view.user.displayName)}</strong>.</p>`
      : `<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus value="${escapeHtml(view.username ?? "")}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>`;
  const body = `<h1>Sign in to ${escapeHtml(view.serviceName)}</h1>
<p><strong>${escapeHtml(view.clientName)}</strong> wants to access <strong>${escapeHtml(view.resource)}</strong> on your behalf.</p>
<dl>
<dt>Application</dt><dd>${escapeHtml(view.clientName)} (<code>${escapeHtml(view.clientId)}</code>)</dd>
${view.documentHost ? `<dt>Published by</dt><dd><strong data-document-host>${escapeHtml(view.documentHost)}</strong></dd>` : ""}
<dt>Returns to</dt><dd><code>${escapeHtml(view.redirectHost)}</code></dd>
${view.redirectUri ? `<dt>Redirect URI</dt><dd><code data-redirect-uri>${escapeHtml(view.redirectUri)}</code></dd>` : ""}
<dt>Resource</dt><dd><code>${escapeHtml(view.resource)}</code></dd>
</dl>
${view.localhostOnly ? `<p class="warning" data-warning="localhost">This application runs on your own computer (it returns to <code>${escapeHtml(view.redirectHost)}</code>). Continue only if you started it yourself just now.</p>` : ""}
<p>It asks for:</p>
${scopes}
${view.error ? `<p role="alert" class="error">${escapeHtml(view.error)}</p>` : ""}
<form method="post" action="${escapeHtml(view.action)}">
<input type="hidden" name="request_id" value="${escapeHtml(view.requestId)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(view.csrf)}">
${login}
<div class="actions">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" formnovalidate>Deny</button>
</div>
</form>`;
  return pageResponse((nonce) => layout(`Sign in - ${view.serviceName}`, body, nonce), init);
}
