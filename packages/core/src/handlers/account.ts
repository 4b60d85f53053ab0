import type { ServerContext } from "../context.js";
import type { Params } from "../http/body.js";
import { redirectResponse } from "../http/responses.js";
import { listGrants, revokeGrant } from "../tokens/grant-store.js";
import { forgetConsent, listConsents } from "../users/consents.js";
import { endSession, readSession, sessionCsrfMatches, type Session } from "../users/sessions.js";
import { accountLoginPage, pageUi, readPageForm, scopeDescription, themedError } from "./authorize.js";
import { endpointPaths } from "./metadata.js";
import { accountPage, signedOutPage, type ConnectedApp } from "./pages.js";

/** The applications a user allowed: one per client, the union of its scopes, its last use. */
export async function connectedApps(
  ctx: ServerContext,
  subject: string,
): Promise<{ clientId: string; clientName: string | undefined; scopes: string[]; grantedAt: number; lastUsedAt: number }[]> {
  const consents = await listConsents(ctx, subject);
  const apps = await Promise.all(
    consents.map(async (c) => ({
      clientId: c.clientId,
      clientName: (await ctx.clients.find(c.clientId))?.metadata.client_name,
      scopes: c.scopes,
      grantedAt: c.grantedAt,
      lastUsedAt: c.lastUsedAt,
    })),
  );
  return apps.sort((a, b) => b.lastUsedAt - a.lastUsedAt);
}

/**
 * Ends what a user allowed a client: the remembered consent (the next authorization asks again)
 * and every grant of theirs to it (its refresh tokens at once, its access tokens within
 * `grantCacheSeconds`). Other clients keep theirs. Answers how many grants were revoked.
 */
export async function revokeApp(ctx: ServerContext, subject: string, clientId: string): Promise<number> {
  await forgetConsent(ctx, subject, clientId);
  const grants = (await listGrants(ctx, { subject })).filter((g) => g.clientId === clientId);
  for (const grant of grants) await revokeGrant(ctx, grant.id, grant.clientId, "revoked_by_user");
  ctx.options.onEvent({ type: "consent.revoked", clientId, subject });
  return grants.length;
}

/** `GET <issuer>/account`: the signed-in user's connected applications; the login page first without a session. */
export async function accountHandler(request: Request, ctx: ServerContext): Promise<Response> {
  const paths = endpointPaths(ctx.options);
  const session = await readSession(ctx, request);
  if (!session) return accountLoginPage(ctx, request, new URL(paths.account, ctx.options.issuer).href);
  const apps: ConnectedApp[] = (await connectedApps(ctx, session.user.subject)).map((app) => ({
    clientId: app.clientId,
    clientName: app.clientName ?? "An unnamed application",
    scopes: app.scopes.map((name) => ({ name, description: scopeDescription(ctx, name) })),
    lastUsedAt: app.lastUsedAt,
  }));
  const preferred = session.user.claims?.preferred_username;
  const user = session.user.displayName ?? (typeof preferred === "string" ? preferred : session.user.subject);
  return accountPage(pageUi(ctx, request), { user, apps, csrf: session.csrf, revokeAction: paths.accountRevoke, logoutAction: paths.logout });
}

/** A session form's POST: the session and its CSRF token, or a 403 page. */
async function sessionForm(request: Request, ctx: ServerContext): Promise<{ session: Session; form: Params } | Response> {
  const form = await readPageForm(ctx, request);
  if (form instanceof Response) return form;
  const session = await readSession(ctx, request);
  if (!session || !sessionCsrfMatches(session, form.get("csrf_token"))) {
    return themedError(ctx, "The form could not be verified. Open the page again.", 403);
  }
  return { session, form };
}

/** `POST <issuer>/account/revoke` (`client_id`, `csrf_token`): revokes one connected application. */
export async function accountRevokeHandler(request: Request, ctx: ServerContext): Promise<Response> {
  const checked = await sessionForm(request, ctx);
  if (checked instanceof Response) return checked;
  const clientId = checked.form.get("client_id") ?? "";
  if (clientId === "" || clientId.length > 2048) return themedError(ctx, "No application was named.");
  await revokeApp(ctx, checked.session.user.subject, clientId);
  return redirectResponse(new URL(endpointPaths(ctx.options).account, ctx.options.issuer).href, 303);
}

/** `POST <issuer>/logout` (`csrf_token`): ends the browser's session. */
export async function logoutHandler(request: Request, ctx: ServerContext): Promise<Response> {
  const checked = await sessionForm(request, ctx);
  if (checked instanceof Response) return checked;
  const clear = await endSession(ctx, checked.session);
  ctx.options.onEvent({ type: "session.ended", subject: checked.session.user.subject });
  return signedOutPage(pageUi(ctx, request), { "Set-Cookie": clear });
}
