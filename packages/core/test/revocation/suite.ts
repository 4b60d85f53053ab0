import { describe, expect, it } from "vitest";
import type { Storage } from "../../src/index.js";
import { createTestServer, form, ISSUER, obtainTokens, resourceRequest } from "../helpers.js";

/**
 * The suite every store with a broadcast (`Storage.publish`/`subscribe`) runs: two instances, each
 * on its own connection to the shared store, and a grant revoked at one is refused at the other at
 * once, not after that instance's grant cache (2 s).
 *
 * @param name The store, as the describe title shows it ("one Redis").
 * @param options `connect` opens one instance's store on the shared data; `mechanism` names the
 *   broadcast in the test title; `skipReason` skips the suite when the service is absent.
 */
export function describeRevocationBroadcast(name: string, options: { connect: () => Storage; mechanism: string; skipReason?: string | undefined }): void {
  describe.skipIf(Boolean(options.skipReason))(`Two instances on ${name}`, () => {
    it(`AS-REV-5: a grant revoked at A is refused at B at once, not after B's grant cache (${options.mechanism})`, async () => {
      const stores = [options.connect(), options.connect()];
      try {
        const [a, b] = stores.map((storage) => createTestServer({ storage })) as [ReturnType<typeof createTestServer>, ReturnType<typeof createTestServer>];
        const accepts = async (token: string) => !((await b.guard.authenticate(resourceRequest(token))) instanceof Response);
        for (let round = 0; round < 3; round++) {
          const { body: tokens } = await obtainTokens(a.fetch);
          // B verifies the token: it now trusts the grant for grantCacheSeconds (2 s).
          expect(await accepts(tokens.access_token!)).toBe(true);
          expect(await accepts(tokens.access_token!)).toBe(true);
          const started = Date.now();
          const revoked = await a.fetch(`${ISSUER}/revoke`, form({ token: tokens.refresh_token!, client_id: "pub" }));
          expect(revoked.status).toBe(200);
          await expect.poll(() => accepts(tokens.access_token!), { interval: 10, timeout: 1_000 }).toBe(false);
          expect(Date.now() - started).toBeLessThan(1_000);
        }
      } finally {
        await Promise.all(stores.map((store) => store.close?.()));
      }
    });
  });
}
