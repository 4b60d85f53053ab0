import express, { type ErrorRequestHandler } from "express";
import { createContractAuth, reached } from "../../core/test/adapter-contract/app.js";
import { listen } from "../../core/test/adapter-contract/listen.js";
import { describeAdapterContract } from "../../core/test/adapter-contract/suite.js";
import { oauthRouter, requireBearerAuth } from "../src/index.js";

for (const parser of [false, true]) {
  describeAdapterContract(`Express ${parser ? "with express.json() mounted first" : "without a body parser"}`, () =>
    listen((base, errors) => {
      const { server, guard } = createContractAuth(base, (error) => errors.push(error));
      const app = express();
      if (parser) app.use(express.json());
      app.use(oauthRouter(server, guard));
      app.all("/mcp", requireBearerAuth(guard), async (req, res) => {
        const response = reached(req.auth);
        res
          .status(response.status)
          .type("application/json")
          .send(await response.text());
      });
      // The app's own errors (its body parser refusing a body): a clean JSON answer, as an app should.
      const onError: ErrorRequestHandler = (error: { status?: number }, _req, res, _next) => {
        const status = error.status ?? 500;
        res
          .status(status)
          .set("Cache-Control", "no-store")
          .json({ error: status < 500 ? "invalid_request" : "server_error" });
      };
      app.use(onError);
      return app;
    }),
  );
}
