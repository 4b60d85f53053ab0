import type { ServerContext } from "../context.js";
import { bindingCookie, readCookie } from "../http/cookies.js";
import { randomToken, sha256, timingSafeEqual } from "../lib/crypto.js";
import { keys } from "../storage/keys.js";
import type { User } from "../types.js";

/** A browser's sign-in on the built-in pages, stored under the SHA-256 of its cookie value. */
interface SessionRecord {
  user: User;
  createdAt: number;
  expiresAt: number;
}

/** A live session: who is signed in, and the CSRF token the session's own forms carry. */
export interface Session {
  user: User;
  /** Derived from the session id: a form without it is not from a page this session was shown. */
  csrf: string;
  hash: string;
}

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * `__Host-` (Secure, Path=/, no Domain) whenever the issuer is https; an issuer with a path adds
 * it to the name, so issuers sharing an origin keep their sessions apart.
 */
export function sessionCookieName(ctx: ServerContext): string {
  const path = ctx.options.issuerPath ? `-${ctx.options.issuerPath.slice(1).replace(/[^A-Za-z0-9_-]/g, "_")}` : "";
  return `${ctx.options.secureCookies ? "__Host-" : ""}portcullis-session${path}`;
}

async function csrfOf(id: string): Promise<string> {
  return sha256(`portcullis/session-csrf:${id}`);
}

/**
 * Starts a session for a user who just proved who they are: always a new id (a cookie planted
 * before the sign-in never becomes a session), stored hashed, with the `Set-Cookie` to send.
 * The previous session of this browser, if any, is ended.
 */
export async function startSession(ctx: ServerContext, request: Request, user: User): Promise<{ setCookie: string }> {
  const lifetime = ctx.options.sessions ? ctx.options.sessions.ttlSeconds : 0;
  const previous = readCookie(request, sessionCookieName(ctx));
  if (previous && SESSION_ID.test(previous)) await ctx.options.storage.delete(keys.session(await sha256(previous)));
  if (!ctx.options.sessions) return { setCookie: bindingCookie(sessionCookieName(ctx), "", ctx.options.secureCookies, 0) };
  const id = randomToken(32);
  const now = ctx.options.now();
  const record: SessionRecord = {
    user: { subject: user.subject, ...(user.claims ? { claims: user.claims } : {}), ...(user.displayName ? { displayName: user.displayName } : {}) },
    createdAt: now,
    expiresAt: now + lifetime * 1000,
  };
  await ctx.options.storage.set(keys.session(await sha256(id)), record, { ttlSeconds: lifetime });
  return { setCookie: bindingCookie(sessionCookieName(ctx), id, ctx.options.secureCookies, lifetime) };
}

/** The browser's live session, or undefined. */
export async function readSession(ctx: ServerContext, request: Request): Promise<Session | undefined> {
  if (!ctx.options.sessions) return undefined;
  const id = readCookie(request, sessionCookieName(ctx));
  if (!id || !SESSION_ID.test(id)) return undefined;
  const hash = await sha256(id);
  const record = await ctx.options.storage.get<SessionRecord>(keys.session(hash));
  if (!record || record.expiresAt <= ctx.options.now()) return undefined;
  return { user: record.user, csrf: await csrfOf(id), hash };
}

/** Whether `token` is the CSRF token of `session` (constant time). */
export function sessionCsrfMatches(session: Session, token: string | undefined): boolean {
  return typeof token === "string" && token.length > 0 && timingSafeEqual(token, session.csrf);
}

/** Ends a session: its record is deleted, and the cookie cleared. */
export async function endSession(ctx: ServerContext, session: Session): Promise<string> {
  await ctx.options.storage.delete(keys.session(session.hash));
  return bindingCookie(sessionCookieName(ctx), "", ctx.options.secureCookies, 0);
}
