/**
 * test/lab/lab.ts execFileWithInput: a child that exits without reading its stdin. Written for the
 * demo's crash on a CI run (an unhandled EPIPE on a check's stdin ended the whole demo).
 */
import { execFile } from "child_process";
import { describe, expect, it } from "vitest";
import { execFileWithInput } from "../lab";

// More than a pipe holds (64 KiB on Linux): the write is still pending when `true` exits.
const INPUT = "x".repeat(4 << 20);

describe("input on the stdin of a child that does not read it", () => {
    it("written as before (execFile, stdin.end): the pipe emits EPIPE, which nothing handled", async () => {
        const code = await new Promise<string | undefined>((resolve) => {
            const child = execFile("true", [], () => undefined);
            child.stdin!.on("error", (e: NodeJS.ErrnoException) => resolve(e.code));
            child.on("close", () => setTimeout(() => resolve(undefined), 200));
            child.stdin!.end(INPUT);
        });
        expect(code).toBe("EPIPE");
    });

    it("execFileWithInput: the child's own result, and no error event left unhandled", async () => {
        const result = await new Promise<{ err: Error | null; stdout: string }>((resolve) =>
            execFileWithInput("true", [], {}, INPUT, (err, stdout) => resolve({ err, stdout })),
        );
        expect(result).toEqual({ err: null, stdout: "" });
        const failed = await new Promise<Error | null>((resolve) => execFileWithInput("false", [], {}, INPUT, (err) => resolve(err)));
        expect(failed).toBeInstanceOf(Error);
    });
});
