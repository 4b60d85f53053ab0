/**
 * A failure of the client flow with a stable code: what the CLI prints and what callers branch on.
 * OAuth error codes from a server (`access_denied`, `invalid_grant`, …) keep their RFC name.
 */
export class PortcullisClientError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PortcullisClientError";
    this.code = code;
  }
}
