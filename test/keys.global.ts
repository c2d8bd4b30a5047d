/**
 * vitest globalSetup for `npm test` (unit and host projects): one directory for the run's test key
 * pairs (test/harness.ts newKeyPair), shared by every test file's process and removed when the run
 * ends. Both projects name this file; the second finds the directory made and leaves it be.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export default function setup(): () => void {
    if (process.env.MAILAUTH_TEST_KEYS) return () => {};
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-test-keys-"));
    process.env.MAILAUTH_TEST_KEYS = dir;
    return () => {
        fs.rmSync(dir, { recursive: true, force: true });
        delete process.env.MAILAUTH_TEST_KEYS;
    };
}
