import pg from "pg";
import { afterAll } from "vitest";
import { runConcurrencySuite } from "@portcullis/core/testing";
import { createPostgresStore } from "./index.js";
import { POSTGRES_URL, freshSchema, postgresSkipReason } from "../test/availability.js";

const skipReason = await postgresSkipReason("postgres concurrency");

const base = freshSchema("race");
let stores = 0;
afterAll(async () => {
  if (skipReason) return;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  const { rows } = await admin.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", [base.name]);
  for (const { nspname } of rows) await admin.query(`DROP SCHEMA ${pg.escapeIdentifier(nspname)} CASCADE`);
  await admin.end();
});

runConcurrencySuite("postgres", { skipReason, open: async () => createPostgresStore({ url: POSTGRES_URL, schema: `${base.name}_${++stores}` }) });
