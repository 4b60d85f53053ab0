/**
 * Baselines: a tiny JSON endpoint (POST /mcp -> {"ok":true}) on bare Hono (@hono/node-server),
 * bare Express 5 and bare node:http; and the floor of a Hono bearer middleware: the same Hono
 * endpoint behind one async middleware that does nothing but await the handler.
 * argv[2]: {"framework":"hono"|"hono-middleware"|"express"|"node"}.
 */
import type { RequestListener } from "node:http";
import { getRequestListener } from "@hono/node-server";
import express from "express";
import { Hono } from "hono";
import { argConfig, fail, listenLoopback, reportReady } from "./common.js";

const { framework } = argConfig<{ framework: "hono" | "hono-middleware" | "express" | "node" }>();
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
