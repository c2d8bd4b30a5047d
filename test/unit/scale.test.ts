/**
 * Hundreds of domains: no command the stack sends grows with the number of domains. sshd runs a
 * command as one argument of `$SHELL -c`, and Linux refuses one argument over 128 KiB
 * (MAX_ARG_STRLEN): the OpenDKIM tables once travelled inside the command and broke `pulumi up`
 * at about 420 domains, after keys and records existed. They travel on stdin now.
 */
import { describe, expect, it } from "vitest";
import { exampleConfig, Run, runProgram, stagedFile } from "../harness";

const MAX_ARG_STRLEN = 32 * 4096;

function manyDomains(n: number): Record<string, unknown> {
    const config = exampleConfig();
    const [first] = config["mailauth:domains"] as Record<string, unknown>[];
    config["mailauth:domains"] = Array.from({ length: n }, (_, i) => ({
        ...first,
        name: i === 0 ? "example.com" : `d${String(i).padStart(4, "0")}.example.com`,
        // A rotation under way everywhere: two selectors per domain.
        previousSelectors: ["20260601"],
    }));
    config["mailauth:opendkim"] = { trustedHosts: Array.from({ length: 200 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`) };
    return config;
}

const commands = (run: Run) => run.resources.filter((r) => r.type === "command:remote:Command");

describe("hundreds of domains", () => {
    it("every command stays the size it has for two domains; the tables travel on stdin", async () => {
        const small = await runProgram(manyDomains(2), { shareKeys: true, preview: true });
        const large = await runProgram(manyDomains(600), { shareKeys: true, preview: true });
        const size = (run: Run, name: string) => Buffer.byteLength(commands(run).find((r) => r.name === name)!.inputs.create);
        for (const step of ["mailhost-packages", "mailhost-opendkim", "mailhost-postfix"]) {
            expect(size(large, step), step).toBe(size(small, step));
        }
        for (const c of commands(large)) {
            for (const field of ["create", "update", "delete"]) {
                if (typeof c.inputs[field] === "string") expect(Buffer.byteLength(c.inputs[field]), `${c.name} ${field}`).toBeLessThan(MAX_ARG_STRLEN / 4);
            }
        }
        const opendkim = commands(large).find((r) => r.name === "mailhost-opendkim")!;
        expect(Buffer.byteLength(opendkim.inputs.stdin)).toBeGreaterThan(MAX_ARG_STRLEN);
        expect(stagedFile(opendkim.inputs.stdin, "KeyTable").split("\n").length - 1).toBe(1200);
        expect(stagedFile(opendkim.inputs.stdin, "SigningTable")).toContain("*@d0599.example.com 20261127._domainkey.d0599.example.com\n");
    });
});
