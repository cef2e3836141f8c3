// Two projects: unit (pure core and in-process servers, no cluster) and e2e (real control plane).
const tsTransform = { "^.+\\.ts$": ["ts-jest", { useESM: true, tsconfig: "tsconfig.json" }] };
const common = {
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts"],
  transform: tsTransform,
  moduleFileExtensions: ["ts", "js", "json"],
  // ts-jest rewrites our ".ts" import suffixes to ".js" (rewriteRelativeImportExtensions); map them back.
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
};
export default {
  projects: [
    {
      ...common,
      displayName: "unit",
      testMatch: [
        "<rootDir>/operator/**/*.test.ts",
        "<rootDir>/test/unit/**/*.test.ts",
        "<rootDir>/infra/**/*.test.ts",
      ],
    },
    {
      ...common,
      displayName: "e2e",
      testMatch: ["<rootDir>/test/e2e/**/*.e2e.ts"],
      globalSetup: "<rootDir>/test/e2e/global-setup.ts",
      testTimeout: 600000,
    },
  ],
};
