import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { RunningAdapter } from "./suite.js";

/** Serves a Node request listener on a free loopback port; `build` gets the origin first. */
export async function listen(build: (base: string, errors: unknown[]) => (req: IncomingMessage, res: ServerResponse) => unknown): Promise<RunningAdapter> {
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const errors: unknown[] = [];
  http.on("request", build(url, errors));
  return {
    url,
    reportedErrors: async () => errors.length,
    stop: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
