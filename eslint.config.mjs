// Lint: typescript-eslint's recommended rules plus our one-way import rule (tools/eslint/layers.mjs).
import tseslint from "typescript-eslint";
import layers from "./tools/eslint/layers.mjs";

export default tseslint.config(
  { ignores: ["dist/**", "backend/dist/**", "node_modules/**", ".cache/**", "examples/*/node_modules/**", "coverage/**"] },
  ...tseslint.configs.recommended,
  {
    plugins: { vmbranch: { rules: { layers } } },
    rules: {
      "vmbranch/layers": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // Provider methods require() at run time on purpose (docs/provider.md, "How it runs inside Pulumi").
      "@typescript-eslint/no-require-imports": "off",
    },
  },
);
