import type * as Http from "node:http";
import type { AddressInfo } from "node:net";
import { PortcullisClientError } from "./errors.js";

/** A one-shot loopback redirect target (RFC 8252 §7.3) at `http://127.0.0.1:<port>/callback`. */
export interface LoopbackReceiver {
  redirectUri: string;
  /** Resolves with the first request to `/callback`; rejects after `timeoutMs`. */
  waitForCallback(timeoutMs: number): Promise<URLSearchParams>;
  /** Answers the browser that made the callback, then stops listening. */
  finish(outcome: { ok: true } | { ok: false; message: string }): void;
  close(): Promise<void>;
}

const PAGE = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>${body}</p></body></html>`;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Listens on 127.0.0.1: on `port` when given and free, else on a port the system picks. Node only.
 * Answers 404 to anything but `GET /callback`.
 */
export async function startLoopbackReceiver(port?: number): Promise<LoopbackReceiver> {
  const http = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.("node:http") as typeof Http | undefined;
  if (!http) throw new PortcullisClientError("unsupported", "the loopback redirect needs Node.js");
  let deliver: ((params: URLSearchParams) => void) | undefined;
  let pending: Http.ServerResponse | undefined;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.method !== "GET" || url.pathname !== "/callback" || !deliver) {
      res.writeHead(404, { "Content-Type": "text/plain" }).end("Not found");
      return;
    }
    pending = res;
    const d = deliver;
    deliver = undefined;
    d(url.searchParams);
  });
  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(p, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  try {
    await listen(port ?? 0);
  } catch (error) {
    if (port === undefined) throw error;
    await listen(0);
  }
  const { port: bound } = server.address() as AddressInfo;
  return {
    redirectUri: `http://127.0.0.1:${bound}/callback`,
    waitForCallback(timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          deliver = undefined;
          reject(new PortcullisClientError("timeout", `no authorization response within ${Math.round(timeoutMs / 1000)} s`));
        }, timeoutMs);
        deliver = (params) => {
          clearTimeout(timer);
          resolve(params);
        };
      });
    },
    finish(outcome) {
      const res = pending;
      pending = undefined;
      if (!res) return;
      const html = outcome.ok
        ? PAGE("Signed in", "You can close this window and return to the terminal.")
        : PAGE("Sign-in failed", escapeHtml(outcome.message));
      res.writeHead(outcome.ok ? 200 : 400, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", Connection: "close" }).end(html);
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
    },
  };
}
