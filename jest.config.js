// Two projects: unit (pure core and in-process servers, no cluster) and e2e (real control plane).
const tsTransform = { "^.+\\.ts$": ["ts-jest", { useESM: true, isolatedModules: true, tsconfig: "tsconfig.json" }] };
const common = {
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts"],
  transform: tsTransform,
  moduleFileExtensions: ["ts", "js", "json"],
};
export default {
  projects: [
    { ...common, displayName: "unit", testMatch: ["<rootDir>/operator/**/*.test.ts", "<rootDir>/test/unit/**/*.test.ts", "<rootDir>/infra/**/*.test.ts"] },
    {
      ...common,
      displayName: "e2e",
      testMatch: ["<rootDir>/test/e2e/**/*.e2e.ts"],
      globalSetup: "<rootDir>/test/e2e/global-setup.ts",
      testTimeout: 600000,
    },
  ],
};
