export { createMcpServer, handleMcpRequest } from "./mcp.js";
export { banner, createDemoAuth, demoConfig, DEMO_SCOPES } from "./demo.js";
export type { DemoConfig } from "./demo.js";
export { createExampleAuth, createResourceServerAuth, resourceServerConfig } from "./resource-server.js";
export type { ResourceServerConfig } from "./resource-server.js";
export { upstreamConfig, DEFAULT_UPSTREAM_SCOPES } from "./upstream.js";
export type { UpstreamDemoConfig } from "./upstream.js";
