import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        projects: [
            {
                test: {
                    name: "unit",
                    include: ["test/unit/**/*.test.ts"],
                    testTimeout: 60_000,
                    // Pulumi's runtime is one per process: run files one after another.
                    fileParallelism: false,
                },
            },
            {
                test: {
                    name: "lab",
                    include: ["test/lab/**/*.test.ts"],
                    testTimeout: 600_000,
                    hookTimeout: 900_000,
                    fileParallelism: false,
                },
            },
        ],
    },
});
