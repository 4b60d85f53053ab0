import { afterAll } from "vitest";
import { describeSharedKeyRotation } from "../../core/test/key-rotation/suite.js";
import { createPostgresStore } from "./index.js";
import { freshSchema, postgresSkipReason } from "../test/availability.js";

const skipReason = await postgresSkipReason("postgres key rotation");
const schemas: ReturnType<typeof freshSchema>[] = [];

afterAll(async () => {
  if (skipReason) return;
  for (const schema of schemas) await schema.drop();
});

// Each instance has its own pool, as separate processes would; they share one schema.
describeSharedKeyRotation("one PostgreSQL", {
  skipReason,
  open: async () => {
    const schema = freshSchema(`keys${schemas.length + 1}`);
    schemas.push(schema);
    const opened: ReturnType<typeof createPostgresStore>[] = [];
    return {
      connect: () => {
        const store = createPostgresStore({ url: schema.url });
        opened.push(store);
        return store;
      },
      close: async () => {
        await Promise.all(opened.map((store) => store.close?.()));
      },
    };
  },
});
