import { mergeConfig } from "vitest/config";
import base from "./vitest.config.js";
// TEMPORARY (delete before handing back): root tsconfig references a folder without tsconfig.json.
export default mergeConfig(base, { oxc: { tsconfig: false } });
