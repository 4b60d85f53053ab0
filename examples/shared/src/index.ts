export { createMcpServer, handleMcpRequest } from "./mcp.js";
export { banner, createDemoAuth, demoConfig, DEMO_SCOPES } from "./demo.js";
export type { DemoConfig } from "./demo.js";
