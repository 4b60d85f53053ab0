/**
 * Raw jose ES256 sign and verify, in one process, no HTTP: the physical limit of the fresh-token
 * path. Bounded loops of `durationMs` each, one operation in flight at a time (one core's worth),
 * repeated `runs` times; prints one JSON line per run.
 *
 * The token has the claims Portcullis issues (RFC 9068); verification checks what a resource
 * server must (signature, `typ`, issuer, audience, expiry) with the key imported once.
 *
 * argv[2]: {"durationMs": 5000, "runs": 3, "warmupMs": 1000}
 */
import { randomUUID } from "node:crypto";
import { generateKeyPair, jwtVerify, SignJWT } from "jose";
import { argConfig } from "./common.js";

const { durationMs, runs, warmupMs } = argConfig<{ durationMs: number; runs: number; warmupMs: number }>();
const ISSUER = "http://127.0.0.1:8787";
const AUDIENCE = `${ISSUER}/mcp`;
const { privateKey, publicKey } = await generateKeyPair("ES256");

const sign = () =>
  new SignJWT({ client_id: "pub", gid: randomUUID(), scope: "mcp:tools" })
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "k1" })
    .setIssuer(ISSUER)
    .setSubject("alice")
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("1h")
    .setJti(randomUUID())
    .sign(privateKey);
const tokens = await Promise.all(Array.from({ length: 256 }, sign));
let i = 0;
const verify = () =>
  jwtVerify(tokens[i++ % tokens.length]!, publicKey, {
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: ["ES256"],
    typ: "at+jwt",
    requiredClaims: ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"],
  });

/** Operations per second of `op` over a bounded time window. */
async function measure(op: () => Promise<unknown>, ms: number): Promise<number> {
  const started = performance.now();
  const deadline = started + ms;
  let count = 0;
  while (performance.now() < deadline) {
    await op();
    count++;
  }
  return count / ((performance.now() - started) / 1000);
}

await measure(verify, warmupMs);
await measure(sign, warmupMs);
for (let run = 0; run < runs; run++) {
  const verifyOps = await measure(verify, durationMs);
  const signOps = await measure(sign, durationMs);
  process.stdout.write(`BENCH_OPS ${JSON.stringify({ verify: verifyOps, sign: signOps })}\n`);
}
process.exit(0);
