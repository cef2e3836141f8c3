// Four projects: unit (pure core, in-process servers, helm template; no cluster), image (runs the built
// image confined), e2e and reliability (the fault suite; real control plane).
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
        "<rootDir>/test/chart/**/*.test.ts",
        "<rootDir>/test/image/**/*.test.ts",
      ],
    },
    // Unpacks the image `make image` built and runs it confined: `make test-image`.
    { ...common, displayName: "image", testMatch: ["<rootDir>/test/image/**/*.image.ts"], testTimeout: 300000 },
    {
      ...common,
      displayName: "e2e",
      testMatch: ["<rootDir>/test/e2e/**/*.e2e.ts"],
      globalSetup: "<rootDir>/test/e2e/global-setup.ts",
      testTimeout: 600000,
    },
    // The fault suite (make test-reliability): e2e tests that inject faults into the control plane and the operator.
    {
      ...common,
      displayName: "reliability",
      testMatch: ["<rootDir>/test/reliability/**/*.e2e.ts"],
      globalSetup: "<rootDir>/test/e2e/global-setup.ts",
      testTimeout: 600000,
    },
  ],
};
