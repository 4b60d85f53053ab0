/**
 * A small browser for flow tests: a cookie jar per host, redirects followed by hand, and requests
 * to the Portcullis issuer's origin served in process by `server.fetch` (everything else goes over
 * the network, to the test identity provider).
 */
import { createHash, randomBytes } from "node:crypto";
import type { AuthorizationServer } from "../../src/index.js";

export class Agent {
  readonly jar = new Map<string, Map<string, string>>();
  /** Every URL requested, in order. */
  readonly visited: string[] = [];
  private readonly servers: AuthorizationServer[];

  constructor(...servers: AuthorizationServer[]) {
    this.servers = servers;
  }

  /** One request, no redirect followed; cookies sent and kept. */
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url);
    this.visited.push(target.href);
    const headers = new Headers(init.headers);
    const cookies = this.jar.get(target.host);
    if (cookies && cookies.size > 0) headers.set("Cookie", [...cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    const request = new Request(target, { ...init, headers, redirect: "manual" });
    const server = this.servers.find((s) => new URL(s.issuer).origin === target.origin);
    const response = server ? await server.fetch(request) : await fetch(request);
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const jar = this.jar.get(target.host) ?? new Map<string, string>();
      this.jar.set(target.host, jar);
      if (value === "" || attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a))) jar.delete(name);
      else jar.set(name, value);
    }
    return response;
  }

  /** Follows redirects from `url` until one leads where `stop` says, or a page answers. */
  async follow(url: string, init: RequestInit = {}, stop: (url: URL) => boolean = () => false): Promise<{ response: Response; url: URL }> {
    let response = await this.request(url, init);
    let current = new URL(url);
    for (let hops = 0; hops < 20 && response.status >= 300 && response.status < 400; hops++) {
      current = new URL(response.headers.get("Location")!, current);
      if (stop(current)) return { response, url: current };
      response = await this.request(current.href);
    }
    return { response, url: current };
  }
}

/** The hidden fields and action of the first form on a page. */
export function formOf(html: string, base: string): { action: string; fields: Record<string, string> } {
  const action = /<form[^>]*action="([^"]*)"/.exec(html)?.[1] ?? "";
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(m[0])?.[1];
    const value = /value="([^"]*)"/.exec(m[0])?.[1];
    if (name) fields[name] = (value ?? "").replaceAll("&amp;", "&");
  }
  return { action: new URL(action.replaceAll("&amp;", "&"), base).href, fields };
}

export const formPost = (fields: Record<string, string>): RequestInit => ({
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields),
});

/** The MCP client's authorization request at `issuer` (PKCE S256, `params` on top), and its PKCE verifier. */
export function authorizationRequest(issuer: string, params: Record<string, string>) {
  const verifier = randomBytes(32).toString("base64url");
  const url = new URL(`${issuer}/authorize`);
  url.search = new URLSearchParams({
    response_type: "code",
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    ...params,
  }).toString();
  return { url, verifier };
}

/**
 * Signs in at the test identity provider's development pages (any login name): the login form,
 * then the consent form. Starts from the provider's authorization URL and answers the redirect to
 * `callbackPrefix` (the Portcullis callback), not followed.
 */
export async function signInAtIdp(agent: Agent, authorizationUrl: string, login: string, callbackPrefix: string): Promise<URL> {
  const atCallback = (url: URL) => url.href.startsWith(callbackPrefix);
  let { response, url } = await agent.follow(authorizationUrl, {}, atCallback);
  for (let step = 0; step < 4 && !atCallback(url); step++) {
    const html = await response.text();
    const { action, fields } = formOf(html, url.href);
    const prompt = fields.prompt;
    const body = prompt === "login" ? { ...fields, login, password: "any-password" } : fields;
    ({ response, url } = await agent.follow(action, formPost(body), atCallback));
  }
  if (!atCallback(url)) throw new Error(`the identity provider did not send the user back (at ${url.href}, HTTP ${response.status})`);
  return url;
}
