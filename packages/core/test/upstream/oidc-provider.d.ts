// The part of oidc-provider (which ships no types) the test identity provider uses.
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  export interface KoaContext {
    path: string;
    method: string;
    status: number;
    req: IncomingMessage;
    oidc: { params?: Record<string, unknown> };
  }

  export interface Account {
    accountId: string;
    claims: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  }

  export interface Configuration {
    clients?: Record<string, unknown>[];
    findAccount?: (ctx: unknown, id: string) => Account | Promise<Account | undefined> | undefined;
    claims?: Record<string, string[]>;
    features?: Record<string, Record<string, unknown>>;
    // biome-ignore lint/suspicious/noExplicitAny: oidc-provider calls each TTL function with its own arguments
    ttl?: Record<string, number | ((...args: any[]) => number)>;
    cookies?: { keys?: string[] };
    [key: string]: unknown;
  }

  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    proxy: boolean;
    on(event: string, listener: (ctx: KoaContext, ...args: unknown[]) => void): this;
    use(middleware: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): this;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    readonly AccessToken: { find(token: string): Promise<{ grantId: string; destroy(): Promise<void> } | undefined> };
    readonly Grant: { find(id: string): Promise<{ destroy(): Promise<void> } | undefined> };
  }
}
