import { OAuthError } from "../errors.js";
import type { ServerContext } from "../grants/context.js";
import { mediaType, readBody } from "../http/body.js";
import { jsonResponse } from "../http/responses.js";

/** Dynamic client registration (RFC 7591 §3). */
export async function registerHandler(request: Request, ctx: ServerContext): Promise<Response> {
  if (mediaType(request) !== "application/json") {
    throw new OAuthError("invalid_client_metadata", "content type must be application/json");
  }
  let body: unknown;
  try {
    body = JSON.parse(await readBody(request));
  } catch (error) {
    if (error instanceof OAuthError) throw error;
    throw new OAuthError("invalid_client_metadata", "the body is not valid JSON");
  }
  const registered = await ctx.clients.register(body);
  ctx.options.onEvent({ type: "client.registered", clientId: String(registered.client_id) });
  return jsonResponse(registered, { status: 201, noStore: true });
}
