// The properties every answer must keep, the run budget, and a raw HTTP/1.1 client for the
// adapter suites. `npm test` runs a small budget with a fixed seed; `npm run fuzz` sets FUZZ_RUNS
// (and FUZZ_SEED to replay a run) for a long run with a random, printed seed.
import { connect } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fuzzInput, knownHoles, type FuzzInput } from "./inputs.js";

export { fuzzInput, knownHoles, type FuzzInput } from "./inputs.js";

/** The fixed seed of the `npm test` budget. */
const FIXED_SEED = 13;

/**
 * fast-check parameters: `runs` with a fixed seed under `npm test`; under `npm run fuzz`
 * FUZZ_RUNS runs with FUZZ_SEED or a random seed, printed so a failure can be replayed.
 */
export function budget(name: string, runs: number): fc.Parameters<[FuzzInput]> {
  const long = process.env.FUZZ_RUNS !== undefined;
  const numRuns = long ? Number(process.env.FUZZ_RUNS) : runs;
  const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : long ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0 : FIXED_SEED;
  if (long) console.log(`[fuzz] ${name}: FUZZ_SEED=${seed} FUZZ_RUNS=${numRuns}`);
  return { numRuns, seed };
}

/** A test's timeout: a minute under `npm test`, an hour for a long run. */
export const fuzzTimeout = () => (process.env.FUZZ_RUNS !== undefined ? 3_600_000 : 60_000);

/** What came back. */
export interface FuzzAnswer {
  status: number;
  headers: Headers;
  body: string;
}

export interface PropertyContext {
  /** The issuer's origin, `http://127.0.0.1:<port>` or the Fetch suite's. */
  origin: string;
  /** The access token the suite minted (scope `mcp:tools`, not `mcp:admin`), if any. */
  validToken?: string;
  /** Redirect URIs of the fixtures; a Location elsewhere is an open redirect. */
  redirectUris: string[];
}

const STACK = /\bat [\w.<>$]+ \(|\.ts:\d+|\.js:\d+|\/work\/|node_modules|file:\/\//;
const ISSUED = /"(access_token|refresh_token|id_token)"\s*:/;
/** Endpoints answering OAuth JSON (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 7009, RFC 7662). */
const JSON_ENDPOINTS = /^\/(token|register|revoke|introspect)(\/|$)/;

const pathOfTarget = (target: string) => target.split("?")[0]!;

/** First value of a header, case-insensitively, as the server reads it. */
const headerOf = (input: FuzzInput, name: string) => input.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];

/**
 * The properties of every answer:
 * - never a 5xx (storage is in memory, so not even the documented 503);
 * - no stack trace or source path in the body;
 * - an error from a Portcullis JSON endpoint or the guard is JSON with `error`; from the token,
 *   registration, revocation and introspection endpoints with `Cache-Control: no-store` too, as
 *   is every token endpoint answer;
 * - no token is issued (no request carries a grant) and no Location carries a code;
 * - a Location goes to a registered redirect URI or the issuer's own pages, never elsewhere;
 * - the guarded route is reached only with the minted token, and never for the tool it lacks the scope for.
 */
export function checkAnswer(context: PropertyContext, input: FuzzInput, answer: FuzzAnswer): void {
  const where = `${input.method} ${input.target.slice(0, 200)} -> ${answer.status} ${answer.body.slice(0, 300)}`;
  expect(answer.status, where).toBeLessThan(500);
  expect(answer.body, where).not.toMatch(STACK);
  expect(answer.body, where).not.toMatch(ISSUED);

  const path = pathOfTarget(input.target);
  const type = answer.headers.get("Content-Type") ?? "";
  // Node's parser, or the framework before any middleware (@hono/node-server on a Host that is
  // no URL), refuses with a bare 400: Portcullis never saw the request.
  const fromNodeParser = answer.status === 400 && answer.body === "";
  const oauthJSON = JSON_ENDPOINTS.test(path);
  if (answer.status >= 400 && (oauthJSON || path === "/mcp") && !fromNodeParser && input.method !== "HEAD") {
    expect(type, where).toMatch(/^application\/json/);
    const parsed = JSON.parse(answer.body) as { error?: unknown };
    expect(typeof parsed.error, where).toBe("string");
    // RFC 6749 §5.1–5.2 and RFC 7591 §3.2: token and registration answers are never cached.
    if (oauthJSON) expect(answer.headers.get("Cache-Control") ?? "", where).toContain("no-store");
  }
  if (path === "/token" && input.method !== "OPTIONS" && !fromNodeParser) {
    expect(answer.headers.get("Cache-Control") ?? "", where).toContain("no-store");
  }

  const location = answer.headers.get("Location");
  if (location !== null) {
    const target = new URL(location, context.origin);
    const registered = context.redirectUris.some((uri) => `${target.origin}${target.pathname}` === uri);
    const ownPage = target.origin === context.origin;
    expect(registered || ownPage, `open redirect: ${location} (${where})`).toBe(true);
    expect(target.searchParams.has("code"), `code issued: ${location}`).toBe(false);
  }

  if (answer.body.includes('"reached":"mcp"')) {
    const auth = headerOf(input, "Authorization") ?? "";
    expect(context.validToken !== undefined && auth.trim().split(/\s+/)[1] === context.validToken, `guard passed without the token: ${where}`).toBe(true);
    if (input.method === "POST") expect(input.body ?? "", `admin_echo reached without mcp:admin: ${where}`).not.toContain("admin_echo");
  }
}

/** The input as a Fetch `Request` against `origin`, or undefined when no runtime would build it. */
export function toRequest(origin: string, input: FuzzInput): Request | undefined {
  try {
    const withBody = input.body !== undefined && input.method !== "GET" && input.method !== "HEAD";
    const url = new URL(input.target, origin);
    // `new URL` drops a leading "//x" into the host; keep the target a path.
    if (url.origin !== origin) return undefined;
    return new Request(url, {
      method: input.method,
      headers: input.headers.filter(([name]) => !/^(content-length|transfer-encoding|host)$/i.test(name)),
      ...(withBody ? { body: input.body } : {}),
    });
  } catch {
    return undefined;
  }
}

/** A header value a socket can carry: no CR, LF or NUL, no surrounding spaces. */
const headerValue = (value: string) => value.replace(/[\r\n\0]/g, " ").trim();
/** A request target a socket can carry: what is not a visible ASCII character, percent-escaped. */
const wireTarget = (target: string) =>
  (target.startsWith("/") ? target : `/${target}`).replace(/[^\x21-\x7e]/gu, (c) =>
    c.length === 1 && c >= "\ud800" && c <= "\udfff" ? "%EF%BF%BD" : encodeURIComponent(c),
  );

/**
 * Sends `input` as raw HTTP/1.1 bytes (so paths, repeated headers and lying lengths arrive as
 * written) and reads the first answer. Undefined when the server closed without one, which only
 * a lying length may cause.
 */
export function sendRaw(port: number, input: FuzzInput, timeoutMs = 15_000): Promise<FuzzAnswer | undefined> {
  const body = input.body === undefined || input.method === "GET" || input.method === "HEAD" ? undefined : Buffer.from(input.body);
  const lines = [`${input.method} ${wireTarget(input.target)} HTTP/1.1`];
  let hasHost = false;
  for (const [name, value] of input.headers) {
    if (/^(content-length|transfer-encoding|connection)$/i.test(name)) continue;
    if (/^host$/i.test(name)) {
      if (hasHost) continue;
      hasHost = true;
    }
    lines.push(`${name}: ${headerValue(value)}`);
  }
  if (!hasHost) lines.push(`Host: 127.0.0.1:${port}`);
  lines.push("Connection: close");
  const chunks: Buffer[] = [];
  if (body !== undefined) {
    if (input.framing === "chunked") {
      lines.push("Transfer-Encoding: chunked");
      for (let i = 0; i < body.length; i += 16_384) {
        const piece = body.subarray(i, i + 16_384);
        chunks.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n"));
      }
      chunks.push(Buffer.from("0\r\n\r\n"));
    } else {
      const declared = input.framing === "short" ? Math.floor(body.length / 2) : input.framing === "long" ? body.length + 10 : body.length;
      lines.push(`Content-Length: ${declared}`);
      chunks.push(body);
    }
  }
  const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");

  return new Promise((resolve, reject) => {
    const received: Buffer[] = [];
    const socket = connect(port, "127.0.0.1");
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms: ${input.method} ${input.target.slice(0, 200)}`));
    }, timeoutMs);
    // Done at the end of the first answer (some servers keep the connection despite "close").
    socket.on("data", (data: Buffer) => {
      received.push(data);
      const answer = parseAnswer(Buffer.concat(received), input.method === "HEAD", false);
      if (answer) {
        clearTimeout(timer);
        socket.destroy();
        resolve(answer);
      }
    });
    socket.on("error", () => {}); // a reset after the answer, or instead of one: judged below
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(parseAnswer(Buffer.concat(received), input.method === "HEAD", true));
    });
    socket.on("connect", () => {
      socket.write(head);
      for (const chunk of chunks) socket.write(chunk);
      // A long lie stops sending: the server sees the body end early.
      if (input.framing === "long" && body !== undefined) socket.end();
    });
  });
}

/** The first answer in `raw`; undefined until it is complete, unless the connection `closed`. */
function parseAnswer(raw: Buffer, head: boolean, closed: boolean): FuzzAnswer | undefined {
  const end = raw.indexOf("\r\n\r\n");
  if (end === -1) return undefined;
  const [statusLine, ...headerLines] = raw.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "")?.[1]);
  if (!Number.isInteger(status)) return undefined;
  const headers = new Headers();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let rest = raw.subarray(end + 4);
  if (head || status === 204 || status === 304) return { status, headers, body: "" };
  if (/chunked/i.test(headers.get("Transfer-Encoding") ?? "")) {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = rest.indexOf("\r\n");
      if (lineEnd === -1) return closed ? { status, headers, body: Buffer.concat(parts).toString("utf8") } : undefined;
      const size = parseInt(rest.subarray(0, lineEnd).toString("latin1"), 16);
      if (!(size > 0)) break;
      if (rest.length < lineEnd + 2 + size + 2 && !closed) return undefined;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
    return { status, headers, body: Buffer.concat(parts).toString("utf8") };
  }
  if (headers.has("Content-Length")) {
    const length = Number(headers.get("Content-Length"));
    if (rest.length < length && !closed) return undefined;
    return { status, headers, body: rest.subarray(0, length).toString("utf8") };
  }
  return closed ? { status, headers, body: rest.toString("utf8") } : undefined;
}

/** Fails a call that does not answer within `ms`: a hang is a finding, not a slow test. */
export async function bounded<T>(promise: Promise<T>, ms = 15_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the property over a socket: an answer must keep {@link checkAnswer}; none at all only for a
 * lying length, or where `mayDrop` says the server may cut the connection.
 */
export async function checkOverSocket(
  port: number,
  context: PropertyContext,
  input: FuzzInput,
  mayDrop: (input: FuzzInput) => boolean = () => false,
): Promise<void> {
  const answer = await sendRaw(port, input);
  if (answer === undefined) {
    const lied = input.body !== undefined && input.method !== "GET" && input.method !== "HEAD" && (input.framing === "short" || input.framing === "long");
    expect(lied || mayDrop(input), `no answer: ${input.method} ${input.target.slice(0, 200)} (${input.framing})`).toBe(true);
    return;
  }
  checkAnswer(context, input, answer);
}

/** An adapter serving the fuzz target on a real port. */
export interface SocketTarget {
  port: number;
  validToken: string;
  context: PropertyContext;
  close(): Promise<void>;
}

/**
 * The two socket properties every adapter keeps: each known hole, and `runs` random hostile
 * requests. `prepare` shapes an input to what the runtime lets through at all; `mayDrop` says
 * when a dropped connection is an acceptable answer.
 */
export function describeSocketProperties(
  title: string,
  start: () => Promise<SocketTarget>,
  runs: { name: string; runs: number },
  options: { prepare?: (input: FuzzInput) => FuzzInput; mayDrop?: (input: FuzzInput) => boolean } = {},
): void {
  const prepare = options.prepare ?? ((input: FuzzInput) => input);
  describe(`Property: every endpoint through ${title} keeps its promises (issue 13)`, () => {
    let target: SocketTarget;
    beforeAll(async () => {
      target = await start();
    }, 60_000);
    afterAll(() => target?.close());

    it.each(knownHoles("TOKEN"))("%s", async (_title, input) => {
      const withToken = { ...input, headers: input.headers.map(([n, v]): [string, string] => [n, v.replace("TOKEN", target.validToken)]) };
      await checkOverSocket(target.port, target.context, prepare(withToken), options.mayDrop);
    });

    it(
      "answers hostile requests without a 5xx, an unguarded pass, a token, a code or an open redirect",
      async () => {
        await fc.assert(
          fc.asyncProperty(fuzzInput({ host: `127.0.0.1:${target.port}`, validToken: target.validToken }), (input) =>
            checkOverSocket(target.port, target.context, prepare(input), options.mayDrop),
          ),
          budget(runs.name, runs.runs),
        );
      },
      fuzzTimeout(),
    );
  });
}
