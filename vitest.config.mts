import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        // A lab fault scenario fails a step on purpose; Pulumi's SDK then reports each dependent
        // resource that can no longer register. The scenario itself asserts that failure.
        // The zone check (components/zone.ts) refuses the same way: every record waiting for it fails with it.
        onUnhandledError: (error) =>
            !/failed to register new resource|failed to register dependency|remote command failed|^mailauth: Cloudflare:/.test(String(error?.message)),
        projects: [
            {
                test: {
                    name: "unit",
                    include: ["test/unit/**/*.test.ts"],
                    globalSetup: ["test/keys.global.ts"],
                    testTimeout: 60_000,
                    // Pulumi's runtime is one per process, and each file has its own process
                    // (pool "forks", isolate): files may run side by side, as may the host project.
                },
            },
            {
                test: {
                    // The real host scripts on throwaway hosts (test/host/fakeHost.ts): beside the
                    // unit files, on the second core.
                    name: "host",
                    include: ["test/host/**/*.test.ts"],
                    globalSetup: ["test/keys.global.ts"],
                    testTimeout: 60_000,
                    hookTimeout: 60_000,
                },
            },
            {
                test: {
                    name: "bench",
                    include: ["test/bench/**/*.test.ts"],
                    // One lab per machine: the files run one after another.
                    fileParallelism: false,
                    testTimeout: 1_800_000,
                    hookTimeout: 900_000,
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
