import { createContractAuth, reached } from "../../core/test/adapter-contract/app.js";
import { listen } from "../../core/test/adapter-contract/listen.js";
import { describeAdapterContract } from "../../core/test/adapter-contract/suite.js";
import { toNodeListener, withBearerAuth } from "../src/index.js";

describeAdapterContract("Node http (toNodeListener + withBearerAuth)", () =>
  listen((base, errors) => {
    const { server, guard } = createContractAuth(base, (error) => errors.push(error));
    const mcp = withBearerAuth(guard, async (req, res) => {
      const response = reached(req.auth);
      res.writeHead(response.status, { "Content-Type": "application/json" }).end(await response.text());
    });
    return toNodeListener(server, guard, (req, res) => {
      if (new URL(req.url ?? "/", base).pathname === "/mcp") return mcp(req, res);
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found");
    });
  }),
);
