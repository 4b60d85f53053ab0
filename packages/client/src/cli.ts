import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { CheckAbortedError, formatCheck, runChecks } from "./check.js";
import { PortcullisClientError } from "./errors.js";
import { getAccessToken, signIn, signOut, type ClientOptions } from "./session.js";

const USAGE = `Usage:
  portcullis check <mcp-url> [--json]
  portcullis login <mcp-url> [--scope S] [--no-open] [--client-metadata-url URL] [--client-id ID]
  portcullis token <mcp-url>
  portcullis logout <mcp-url>

Tokens and registrations are kept under $PORTCULLIS_HOME (default ~/.config/portcullis).
A pre-registered client's secret is read from $PORTCULLIS_CLIENT_SECRET.`;

/** Opens a URL in the user's browser without a shell: the URL is one argument, never parsed as a command. */
function openBrowser(url: URL): Promise<boolean> {
  const [command, args] =
    process.platform === "darwin"
      ? ["open", [url.href]]
      : process.platform === "win32"
        ? ["rundll32", ["url.dll,FileProtocolHandler", url.href]]
        : ["xdg-open", [url.href]];
  return new Promise((resolve) => {
    try {
      const child = spawn(command, args as string[], { stdio: "ignore", detached: true, shell: false });
      child.once("error", () => resolve(false));
      child.once("spawn", () => {
        child.unref();
        resolve(true);
      });
    } catch {
      resolve(false);
    }
  });
}

function clientOptions(values: { "client-id"?: string | undefined; "client-metadata-url"?: string | undefined }): ClientOptions {
  const secret = process.env.PORTCULLIS_CLIENT_SECRET;
  return {
    ...(values["client-id"] ? { clientId: values["client-id"], ...(secret ? { clientSecret: secret } : {}) } : {}),
    ...(values["client-metadata-url"] ? { clientMetadataUrl: values["client-metadata-url"] } : {}),
  };
}

function fail(error: unknown): number {
  if (error instanceof PortcullisClientError) {
    console.error(`portcullis: ${error.code === "request_failed" || error.message.includes(error.code) ? error.message : `${error.code}: ${error.message}`}`);
  } else {
    console.error(`portcullis: ${error instanceof Error ? error.message : String(error)}`);
  }
  return 1;
}

/** Runs the CLI with `argv` (without `node` and the script); answers the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  const OPTIONS = {
    json: { type: "boolean" },
    scope: { type: "string" },
    "no-open": { type: "boolean" },
    "client-metadata-url": { type: "string" },
    "client-id": { type: "string" },
    help: { type: "boolean", short: "h" },
  } as const;
  try {
    parsed = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    console.error(`portcullis: ${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (!command || command === "help" || command === "--help" || command === "-h" || values.help) {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const [url, ...extra] = positionals;
  if (!url || extra.length) {
    console.error(`portcullis: ${command} takes exactly one MCP server URL\n${USAGE}`);
    return 2;
  }

  switch (command) {
    case "check": {
      try {
        const report = await runChecks(url);
        if (values.json) console.log(JSON.stringify(report));
        else for (const check of report.checks) console.log(formatCheck(check));
        return report.checks.some((c) => c.status === "fail") ? 1 : 0;
      } catch (error) {
        if (error instanceof CheckAbortedError) {
          console.error(`portcullis: ${error.message}`);
          return 2;
        }
        return fail(error);
      }
    }
    case "login": {
      try {
        const session = await signIn(url, {
          ...clientOptions(values),
          ...(values.scope ? { scope: values.scope } : {}),
          openUrl: async (authorizationUrl) => {
            if (values["no-open"]) {
              process.stderr.write(`${authorizationUrl.href}\n`);
              return;
            }
            const opened = await openBrowser(authorizationUrl);
            process.stderr.write(
              opened
                ? `Opened your browser to sign in. If it did not open, visit:\n${authorizationUrl.href}\n`
                : `Open this URL to sign in:\n${authorizationUrl.href}\n`,
            );
          },
        });
        console.log(`Signed in to ${session.mcp_url}${session.scope ? ` (scope: ${session.scope})` : ""}`);
        return 0;
      } catch (error) {
        return fail(error);
      }
    }
    case "token": {
      try {
        const session = await getAccessToken(url, clientOptions(values));
        process.stdout.write(`${session.access_token}\n`);
        return 0;
      } catch (error) {
        return fail(error);
      }
    }
    case "logout": {
      try {
        const result = await signOut(url, clientOptions(values));
        console.log(
          !result.signedIn
            ? `Not signed in to ${url}`
            : result.revoked
              ? `Signed out of ${url}; the tokens are revoked`
              : `Signed out of ${url}; the tokens were deleted here (the server did not confirm revocation)`,
        );
        return 0;
      } catch (error) {
        return fail(error);
      }
    }
    default:
      console.error(`portcullis: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
}
