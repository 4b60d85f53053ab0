import { afterAll } from "vitest";
import { describeRevocationBroadcast } from "../../core/test/revocation/suite.js";
import { createPostgresStore } from "./index.js";
import { freshSchema, postgresSkipReason } from "../test/availability.js";

const skipReason = await postgresSkipReason("postgres revocation");
const schema = freshSchema("revoke");
afterAll(async () => {
  if (!skipReason) await schema.drop();
});

// Each instance has its own pool and LISTEN connection on the shared schema.
describeRevocationBroadcast("one PostgreSQL", { skipReason, mechanism: "LISTEN/NOTIFY", connect: () => createPostgresStore({ url: schema.url }) });
