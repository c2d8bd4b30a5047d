/**
 * Hundreds of domains: no command the stack sends grows with the number of domains. sshd runs a
 * command as one argument of `$SHELL -c`, and Linux refuses one argument over 128 KiB
 * (MAX_ARG_STRLEN): the OpenDKIM tables once travelled inside the command and broke `pulumi up`
 * at about 420 domains, after keys and records existed. They travel on stdin now.
 */
import { execFileSync } from "child_process";
import { describe, expect, it } from "vitest";
import { OPENDKIM_CONF, OPENDKIM_ETC_DIR, OPENDKIM_TABLES, renderOpenDkimConf, renderOpenDkimTables, SigningDomain } from "../../components/hostFiles";
import { buildScript, commandLine, stagedStdin } from "../../components/hostScripts";
import { loadTemplate } from "../../components/templates";
import { OpenDkimSettings } from "../../components/settings";
import { exampleConfig, runProgram, stagedFile } from "../harness";

const MAX_ARG_STRLEN = 32 * 4096;

const domains = (n: number): SigningDomain[] =>
    Array.from({ length: n }, (_, i) => ({ name: `d${String(i).padStart(4, "0")}.example.com`, selector: "20270601", previousSelectors: ["20261127"] }));
const opendkim: OpenDkimSettings = {
    reportAddress: "postmaster@example.com",
    trustedHosts: Array.from({ length: 500 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`),
    nameservers: [],
    milterTransport: "auto",
} as OpenDkimSettings;
function files(n: number): Record<string, string> {
    return { ...renderOpenDkimTables(domains(n), opendkim), "opendkim.conf.debian": renderOpenDkimConf(opendkim, "debian")! };
}

describe("hundreds of domains", () => {
    it("the OpenDKIM step's command is the same for 2 and 1,000 domains (a rotation under way); the tables travel on stdin", () => {
        const command = (n: number) =>
            commandLine(
                buildScript({
                    template: "opendkim",
                    vars: { CONF: OPENDKIM_CONF, ETC_DIR: OPENDKIM_ETC_DIR, TABLES: OPENDKIM_TABLES.join(" ") },
                    familyVars: ["SOCKET_DIR", "MAKE_SOCKET_DIR"],
                    milterTransport: "auto",
                    files: files(n),
                }),
                "root",
            );
        expect(command(1000)).toBe(command(2));
        expect(Buffer.byteLength(command(1000))).toBeLessThan(MAX_ARG_STRLEN / 4);
        expect(Buffer.byteLength(stagedStdin(files(1000)))).toBeGreaterThan(MAX_ARG_STRLEN);
    });

    it("the staged files arrive whole in $STAGE from stdin, through the real bash and awk", () => {
        const f = files(1000);
        // The generated script up to the step's own template, then a listing of what was staged.
        const script = buildScript({ template: "testkey", vars: { CONF: "/dev/null", TIMEOUT: "0", INTERVAL: "1" }, files: f });
        const head = script.slice(0, script.indexOf(loadTemplate("testkey.sh")));
        const out = execFileSync(
            "bash",
            ["-c", `${head}for n in ${Object.keys(f).join(" ")}; do printf '%s %s\\n' "$n" "$(sha256sum <"$STAGE/$n" | cut -c1-64)"; done`],
            {
                input: stagedStdin(f),
                encoding: "utf8",
            },
        );
        const sha = (s: string) => require("crypto").createHash("sha256").update(s).digest("hex");
        expect(out).toBe(
            Object.entries(f)
                .map(([n, c]) => `${n} ${sha(c)}\n`)
                .join(""),
        );
    });

    it("a file missing from stdin stops the step", () => {
        const script = buildScript({
            template: "testkey",
            vars: { CONF: "/dev/null", TIMEOUT: "0", INTERVAL: "1" },
            files: { KeyTable: "x\n", SigningTable: "y\n" },
        });
        const head = script.slice(0, script.indexOf(loadTemplate("testkey.sh")));
        let error = "";
        try {
            execFileSync("bash", ["-c", `${head}echo staged`], { input: stagedStdin({ KeyTable: "x\n" }), encoding: "utf8", stdio: "pipe" });
        } catch (e) {
            error = String((e as { stderr: string }).stderr);
        }
        expect(error).toContain("mailauth: staged file SigningTable did not arrive on stdin");
    });

    it("the program sends the tables on the OpenDKIM step's stdin", async () => {
        const run = await runProgram(exampleConfig());
        const step = run.resources.find((r) => r.name === "mailhost-opendkim")!;
        expect(stagedFile(step.inputs.stdin, "SigningTable")).toContain("*@example.com 20261127._domainkey.example.com\n");
        expect(step.inputs.create).not.toContain("20261127._domainkey");
    });

    it("the host steps, each an SSH client held until the run ends, are as many for 300 domains as for 1, and fewer than sshd's MaxStartups start", async () => {
        // pulumi-command v1.2.1 dials a client per command and closes only its session, not the
        // client, until the provider exits (provider/pkg/provider/remote/commandOutputs.go:31-40), so
        // each step holds one authenticated connection for the whole run; sshd's default
        // `MaxStartups 10:30:100` starts dropping new connections past 10 unauthenticated at once
        // (sshd_config(5)). With a step per key (before 2026-12-02) 300 domains held 300 connections.
        const steps = async (n: number) => {
            const domains = Array.from({ length: n }, (_, i) => ({
                name: i === 0 ? "example.com" : `d${String(i).padStart(4, "0")}.example.com`,
                selector: "s1",
            }));
            const run = await runProgram({ ...exampleConfig(), "mailauth:domains": domains }, { preview: true, shareKeys: true });
            return run.resources.filter((r) => r.type === "command:remote:Command").map((r) => r.name);
        };
        const one = await steps(1);
        expect(await steps(300)).toEqual(one);
        expect(one.length).toBeLessThan(10);
    });
});
