/**
 * Baselines: a tiny JSON endpoint (POST /mcp -> {"ok":true}) on bare Hono (@hono/node-server),
 * bare Express 5 and bare node:http; the floor of a Hono bearer middleware: the same Hono
 * endpoint behind one async middleware that does nothing but await the handler; and the floor of
 * the Express adapter's mounting: the Express endpoint behind an application-level middleware and
 * an async route middleware, both doing nothing but call `next()`.
 * argv[2]: {"framework":"hono"|"hono-middleware"|"express"|"express-middleware"|"node"}.
 */
import type { RequestListener } from "node:http";
import { getRequestListener } from "@hono/node-server";
import express from "express";
import { Hono } from "hono";
import { argConfig, fail, listenLoopback, reportReady } from "./common.js";

const { framework } = argConfig<{ framework: "hono" | "hono-middleware" | "express" | "express-middleware" | "node" }>();
const { port, attach } = await listenLoopback();

let listener: RequestListener;
if (framework === "hono") {
  const app = new Hono();
  app.post("/mcp", (c) => c.json({ ok: true }));
  listener = getRequestListener(app.fetch);
} else if (framework === "hono-middleware") {
  // Any middleware makes Hono compose its handlers through promises, and @hono/node-server then
  // writes the response once the promise settles, instead of at once.
  const app = new Hono();
  app.post(
    "/mcp",
    async (_c, next) => {
      await next();
    },
    (c) => c.json({ ok: true }),
  );
  listener = getRequestListener(app.fetch);
} else if (framework === "express") {
  const app = express();
  app.post("/mcp", (_req, res) => void res.json({ ok: true }));
  listener = app;
} else if (framework === "express-middleware") {
  // Where the adapter mounts: `app.use(oauthRouter(...))`, which sends a path it does not serve on
  // to next(), and `requireBearerAuth(guard)` on the route, an async function.
  const app = express();
  app.use((_req, _res, next) => next());
  app.post(
    "/mcp",
    async (_req, _res, next) => {
      next();
    },
    (_req, res) => void res.json({ ok: true }),
  );
  listener = app;
} else if (framework === "node") {
  listener = (req, res) => {
    if (req.method === "POST" && req.url === "/mcp") {
      res.writeHead(200, { "Content-Type": "application/json" }).end('{"ok":true}');
    } else {
      res.writeHead(404).end();
    }
  };
} else {
  fail(`unknown framework ${String(framework)}`);
}
attach(listener);
await reportReady({ port });
