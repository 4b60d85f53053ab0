import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { createContractAuth, reached } from "../../core/test/adapter-contract/app.js";
import { listen } from "../../core/test/adapter-contract/listen.js";
import { describeAdapterContract } from "../../core/test/adapter-contract/suite.js";
import { bearerAuth, oauthRoutes } from "../src/index.js";

describeAdapterContract("Hono on @hono/node-server", () =>
  listen((base, errors) => {
    const { server, guard } = createContractAuth(base, (error) => errors.push(error));
    const app = new Hono();
    app.use(oauthRoutes(server, guard));
    app.all("/mcp", bearerAuth(guard), (c) => reached(c.get("auth")));
    return getRequestListener(app.fetch, { overrideGlobalObjects: false });
  }),
);
