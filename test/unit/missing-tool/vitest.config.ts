// The vitest that missing-tools.test.ts starts: just the spec here, no global setup.
import { defineConfig } from "vitest/config";

export default defineConfig({ test: { include: ["test/unit/missing-tool/*.spec.ts"], reporters: ["default"] } });
