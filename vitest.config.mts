import { availableParallelism } from "os";
import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        // One worker per core. vitest's default is one fewer (getDefaultThreadsCount in
        // vitest/dist/chunks/cli-api.*.js: numCpus - 1), which on a 2-core machine is a single
        // worker: every unit file and the host file in turn. The lab and the bench stay one file at
        // a time (fileParallelism: false below).
        maxWorkers: availableParallelism(),
        // A lab fault scenario fails a step on purpose; Pulumi's SDK then reports each dependent
        // resource that can no longer register. The scenario itself asserts that failure.
        // The zone check (components/zone.ts) refuses the same way: every record waiting for it fails with it.
        onUnhandledError: (error) =>
            !/failed to register new resource|failed to register dependency|remote command failed|^mailauth: Cloudflare:/.test(String(error?.message)),
        projects: [
            {
                test: {
                    name: "unit",
                    // Pure TypeScript, no root: the program under Pulumi's mocks, and the lab's
                    // own code (its runner, its process and release handling) against fakes, kept
                    // beside the lab it serves in test/lab/unit, which the lab project leaves out.
                    include: ["test/unit/**/*.test.ts", "test/lab/unit/**/*.test.ts"],
                    globalSetup: ["test/keys.global.ts"],
                    testTimeout: 60_000,
                    // Pulumi's runtime is one per process: each worker is a process (pool "forks")
                    // running one file at a time, so files run side by side, as does the host
                    // project. Not isolated: a worker keeps the modules it loaded (@pulumi/pulumi
                    // and its gRPC stack take ~1 s a file to load) from one file to the next, as
                    // runs within a file always shared them; each run starts afresh anyway
                    // (test/harness.ts: new mocks and config, the program's own modules reloaded).
                    // Measured on this machine: unit CPU 69 s isolated, 44 s not.
                    isolate: false,
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
                    // The lab's lock for the whole run (test/lab/lock.ts): its scale case boots the lab.
                    globalSetup: ["test/lab/lock.global.ts"],
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
                    // The lab's lock for the whole run (test/lab/lock.ts): one lab per machine.
                    globalSetup: ["test/lab/lock.global.ts"],
                    // test/lab/unit runs in `npm test` (the unit project), not against real
                    // containers. An exclude replaces vitest's default one (arrays are not merged:
                    // vitest 4.1.12 @vitest/utils dist/helpers.js:317-339 deepMerge; the default,
                    // node_modules and .git, is dist/chunks/defaults.9aQKnqFk.js:6), hence configDefaults.
                    exclude: [...configDefaults.exclude, "test/lab/unit/**"],
                    testTimeout: 600_000,
                    hookTimeout: 900_000,
                    fileParallelism: false,
                },
            },
        ],
    },
});
