/**
 * Settings as the Pulumi CLI stores and hands them over (test/cli.ts models its source): what
 * `pulumi config set --path` makes of what users type, the README's own commands run as
 * written, the CLI's checks before the program starts, and what the user then sees.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { coerce, configSet, runConfigSet, shellWords, StackConfig } from "../cli";
import { exampleConfig, programError, ROOT, runProgram, scriptOf, TEST_SSH_PRIVATE_KEY } from "../harness";
import { unquoteTxt } from "../../components/records/txt";
import { dkimRecordValue } from "../../components/records/dkim";

function stackOf(config: Record<string, unknown>): StackConfig {
    return { values: structuredClone(config), secret: new Set() };
}

describe("the CLI's --path conversion (pulumi/pulumi object.go coerce)", () => {
    it("turns integers without a leading zero into numbers and true/false into booleans", () => {
        expect(coerce("20270601")).toBe(20270601);
        expect(coerce("-5")).toBe(-5);
        expect(coerce("+5")).toBe(5);
        expect(coerce("0123")).toBe("0123");
        expect(coerce("0")).toBe(0);
        expect(coerce("true")).toBe(true);
        expect(coerce("False")).toBe("False");
        expect(coerce("1e3")).toBe("1e3");
        expect(coerce("99999999999999999999999")).toBe("99999999999999999999999");
        expect(coerce("ssh-ed25519 AAAA")).toBe("ssh-ed25519 AAAA");
    });

    it("stores top-level values and one-segment paths as typed strings, deeper paths coerced", () => {
        const stack = stackOf({});
        configSet(stack, "mailauth:ttl", "3600");
        configSet(stack, "mailauth:domains[0].selector", "20270601", { path: true });
        configSet(stack, "mailauth:domains[0].name", "example.com", { path: true });
        configSet(stack, "mailauth:ssh.port", "2222", { path: true });
        configSet(stack, "mailauth:mx.publish", "false", { path: true });
        configSet(stack, "mailauth:domains[0].previousSelectors[0]", "20261127", { path: true, type: "string" });
        expect(stack.values).toEqual({
            "mailauth:ttl": "3600",
            "mailauth:domains": [{ selector: 20270601, name: "example.com", previousSelectors: ["20261127"] }],
            "mailauth:ssh": { port: 2222 },
            "mailauth:mx": { publish: false },
        });
    });
});

describe("every setting a user types with `pulumi config set --path` is taken as typed", () => {
    const typed: [string, string, (run: Awaited<ReturnType<typeof runProgram>>) => void][] = [
        ["mailauth:domains[0].selector", "20270601", (r) => expect((r.outputs.selectors as any)["example.com"].active).toBe("20270601")],
        ["mailauth:domains[1].previousSelectors[0]", "20250101", (r) => expect((r.outputs.selectors as any)["example.org"].previous).toEqual(["20250101"])],
        ["mailauth:domains[0].keyBits", "3072", (r) => expect(r.resources.find((x) => x.name === "example.com-20261127-rsa")!.inputs.rsaBits).toBe(3072)],
        ["mailauth:mx.priority", "20", (r) => expect(r.resources.find((x) => x.name === "example.com-mx")!.inputs.priority).toBe(20)],
        ["mailauth:mx.publish", "false", (r) => expect(r.resources.find((x) => x.name === "example.com-mx")).toBeUndefined()],
        [
            "mailauth:ssh.port",
            "2222",
            (r) => expect(JSON.stringify(r.resources.find((x) => x.name === "mailhost-postfix")!.inputs.connection)).toContain('"port":2222'),
        ],
        ["mailauth:dmarc.enabled", "false", (r) => expect(r.resources.find((x) => x.name === "example.com-dmarc")).toBeUndefined()],
        [
            "mailauth:testKey.timeoutSeconds",
            "60",
            (r) =>
                expect(
                    scriptOf(
                        r.resources.find((x) => x.name === "mailhost-testkey")!.inputs.create,
                        r.resources.find((x) => x.name === "mailhost-testkey")!.inputs.stdin,
                    ),
                ).toContain("TIMEOUT='60'"),
        ],
        ["mailauth:testKey.enabled", "false", (r) => expect(r.outputs.testKey).toEqual({})],
        ["mailauth:domains[0].selector", "true", (r) => expect((r.outputs.selectors as any)["example.com"].active).toBe("true")],
    ];
    it.each(typed)("%s %s", async (key, value, check) => {
        const stack = stackOf(exampleConfig());
        configSet(stack, key, value, { path: true });
        check(await runProgram(stack.values));
    });

    it("says how to keep a selector too long for a JavaScript number, and takes it with --type string", async () => {
        const stack = stackOf(exampleConfig());
        configSet(stack, "mailauth:domains[0].selector", "202706011234567890", { path: true });
        const message = await programError(stack.values);
        expect(message).toContain(
            "mailauth:domains[0].selector: the number 202706011234567900 is too long to keep exactly; set it as a string: pulumi config set --type string --path 'mailauth:domains[0].selector' VALUE",
        );
        expect(message).toMatch(/^mailauth: 1 configuration problem/);
        configSet(stack, "mailauth:domains[0].selector", "202706011234567890", { path: true, type: "string" });
        const run = await runProgram(stack.values);
        expect((run.outputs.selectors as any)["example.com"].active).toBe("202706011234567890");
    });
});

/** The `pulumi config set` lines of the README's shell blocks under a heading, in order. */
/** The `pulumi config set` lines of a README section (by its heading), or of a whole document under docs/ (by its path). */
function readmeCommands(heading: string): string[] {
    const doc = heading.startsWith("docs/");
    const readme = fs.readFileSync(path.join(ROOT, doc ? heading : "README.md"), "utf8");
    const start = doc ? 0 : readme.indexOf(heading);
    expect(start, heading).toBeGreaterThan(-1);
    const next = doc ? -1 : readme.indexOf("\n## ", start + heading.length);
    const section = readme.slice(start, next < 0 ? undefined : next);
    const blocks = [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]);
    return blocks
        .flatMap((b) => b.split("\n"))
        .map((l) => l.trim())
        .filter((l) => /^pulumi config set /.test(l));
}

describe("the README's commands, run as written", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-readme-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "hostkey")]);
    const hostKeyLine = `mail.example.com ${fs.readFileSync(path.join(dir, "hostkey.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ")}`;
    /** What the README's command substitutions print, run against stand-ins for the user's machine. */
    const substitute = (command: string) => {
        if (command.startsWith("ssh-keyscan")) {
            // The pipeline after ssh-keyscan, run for real by bash on what ssh-keyscan prints.
            const pipeline = command.replace(/^ssh-keyscan[^|]*/, "");
            return execFileSync("bash", ["-c", `printf '%s\\n' "$1" ${pipeline}`, "bash", hostKeyLine], { encoding: "utf8" }).replace(/\n$/, "");
        }
        throw new Error(`no stand-in for $(${command})`);
    };
    const stdinFor = (file: string) => (file === "~/.ssh/mailauth" || file === "~/.ssh/id_ed25519" ? `${TEST_SSH_PRIVATE_KEY}\n` : undefined);

    function apply(stack: StackConfig, lines: string[]): void {
        for (const line of lines) {
            const { words, stdinFrom } = shellWords(line, substitute);
            const stdin = stdinFrom ? stdinFor(stdinFrom) : undefined;
            // `pulumi config set --secret cloudflare:apiToken` prompts for the value.
            runConfigSet(stack, words, stdin ?? (words.length === 5 ? "token-typed-at-the-prompt" : undefined));
        }
    }

    it("Quick start: the stack file from the example, the secrets and the pinned host key make a stack that runs", async () => {
        const lines = readmeCommands("## Quick start");
        expect(lines.length).toBeGreaterThanOrEqual(3);
        const stack = stackOf(exampleConfig());
        delete stack.values["mailauth:ssh"];
        stack.values["mailauth:ssh"] = { host: "192.0.2.25" };
        apply(stack, lines);
        expect(stack.secret).toEqual(new Set(["cloudflare:apiToken", "mailauth:sshPrivateKey"]));
        expect((stack.values["mailauth:ssh"] as any).hostKey).toBe(hostKeyLine.split(" ").slice(1).join(" "));
        const run = await runProgram(stack.values, { sshPrivateKey: null, secretKeys: [...stack.secret] });
        expect(run.resources.length).toBeGreaterThan(10);
    });

    it("Rotating: the two commands of step 1 give a new active selector and keep the old one published", async () => {
        const lines = readmeCommands("## Rotating the DKIM key");
        expect(lines).toHaveLength(2);
        const stack = stackOf(exampleConfig());
        apply(stack, lines);
        const run = await runProgram(stack.values);
        expect((run.outputs.selectors as any)["example.com"]).toEqual({ active: "20270601", previous: ["20261127"] });
        const names = run.resources.map((r) => r.name);
        expect(names).toContain("example.com-dkim-20270601");
        expect(names).toContain("example.com-dkim-20261127");
    });

    it("Rotation on a calendar: start, a planning date, and the leaked key's one change, as written", async () => {
        const lines = readmeCommands("docs/rotation-calendar.md");
        expect(lines).toHaveLength(3);
        const [start, now, leak] = lines;
        const stack = stackOf(exampleConfig());
        apply(stack, [start, now]);
        expect(stack.values["mailauth:rotation"]).toEqual({ start: "2026-12-01" });
        const planned = await runProgram(stack.values);
        expect((planned.outputs.selectors as any)["example.com"]).toMatchObject({ active: "k20270530", previous: ["k20261201"] });
        // The leaked key, on 2027-01-10: revoked at once, the next period's selector signs.
        stack.values["mailauth:now"] = "2027-01-10";
        apply(stack, [leak]);
        const run = await runProgram(stack.values);
        expect((run.outputs.selectors as any)["example.com"]).toMatchObject({ active: "k20270530", previous: [], revoked: ["k20261201"] });
        expect(unquoteTxt(run.resources.find((r) => r.name === "example.com-dkim-k20261201")!.inputs.content)).toBe("v=DKIM1; p=");
    });
});

describe("the README's migration with an existing key, run as written", () => {
    it("the selector and the key, set as written, publish the key's record, make no key for it, and are stored encrypted", async () => {
        const all = readmeCommands("docs/own-key.md");
        // The third, the import of a record already there, has the ids the preview prints in place of placeholders.
        expect(all).toHaveLength(3);
        const lines = all.slice(0, 2);
        expect(all[2]).toMatch(/^pulumi config set --path 'mailauth:importRecords\["example.com-dkim-mail"\]' <zone id>\/<record id> /);
        const key = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
        const stack = stackOf(exampleConfig());
        for (const line of lines) {
            const { words, stdinFrom } = shellWords(line, () => "");
            runConfigSet(stack, words, stdinFrom === "key.pem" ? key.privateKey.export({ type: "pkcs8", format: "pem" }).toString() : undefined);
        }
        expect([...stack.secret]).toEqual(["mailauth:dkimKeys"]);
        const run = await runProgram(stack.values, { secretKeys: [...stack.secret] });
        const record = run.resources.find((r) => r.name === "example.com-dkim-mail")!;
        expect(unquoteTxt(record.inputs.content)).toBe(dkimRecordValue(key.publicKey.export({ type: "spki", format: "pem" }).toString()));
        expect(run.resources.find((r) => r.name === "example.com-mail-rsa")).toBeUndefined();
        // The resource the import line names is the selector's record.
        expect(record.type).toBe("cloudflare:index/dnsRecord:DnsRecord");
    });
});

describe("the README's path from p=none to reject, run as written", () => {
    it("step 2 publishes p=quarantine with t=y, step 3 drops t=y, step 4 p=reject", async () => {
        const lines = readmeCommands("docs/dmarc.md");
        expect(lines).toHaveLength(4);
        const dmarcOf = async (stack: StackConfig) =>
            unquoteTxt((await runProgram(stack.values)).resources.find((r) => r.name === "example.com-dmarc")!.inputs.content);
        const stack = stackOf(exampleConfig());
        expect(await dmarcOf(stack)).toBe("v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com");
        const steps = [lines.slice(0, 2), lines.slice(2, 3), lines.slice(3)];
        const records = [
            "v=DMARC1; p=quarantine; t=y; rua=mailto:dmarc-reports@example.com",
            "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@example.com",
            "v=DMARC1; p=reject; rua=mailto:dmarc-reports@example.com",
        ];
        for (const [i, step] of steps.entries()) {
            for (const line of step) runConfigSet(stack, shellWords(line, () => "").words, undefined);
            expect(await dmarcOf(stack), step.join("; ")).toBe(records[i]);
        }
    });
});

describe("what the CLI checks before the program runs", () => {
    it("stops on missing required settings, listing them all, before the program starts", async () => {
        const config = exampleConfig();
        delete config["mailauth:domains"];
        const message = await programError(config, { sshPrivateKey: null });
        expect(message).toBe("Stack 'test' is missing configuration values 'mailauth:domains' and 'mailauth:sshPrivateKey'");
    });

    it("mx and ssh, optional to the CLI since mailauth:hosts may replace them, left out without hosts stop the program naming both", async () => {
        const config = exampleConfig();
        delete config["mailauth:mx"];
        delete config["mailauth:ssh"];
        const message = await programError(config);
        expect(message).toContain(
            "- mailauth:mx: required, not set (an object with hostname, priority, ipv4, ipv6, publish, heloSpf; or several hosts in mailauth:hosts)",
        );
        expect(message).toContain("- mailauth:ssh: required, not set (an object with host, port, user, hostKey; or several hosts in mailauth:hosts)");
    });

    it("refuses an SSH private key stored in plain text (secret: true with a declared type)", async () => {
        const config = { ...exampleConfig(), "mailauth:sshPrivateKey": TEST_SSH_PRIVATE_KEY };
        const message = await programError(config, { sshPrivateKey: null });
        expect(message).toBe("Stack 'test' with configuration key 'mailauth:sshPrivateKey' must be encrypted as it's secret");
    });

    it("applies Pulumi.yaml's defaults as the CLI does", async () => {
        const config = exampleConfig();
        for (const k of ["mailauth:spf", "mailauth:dmarc", "mailauth:opendkim", "mailauth:ttl", "mailauth:testKey"]) delete config[k];
        const run = await runProgram(config);
        const spf = run.resources.find((r) => r.name === "example.com-spf")!;
        expect(spf.inputs).toMatchObject({ content: '"v=spf1 mx ~all"', ttl: 1 });
    });

    it("shows a section set as a plain string as a settings problem, not a JSON parse crash", async () => {
        const stack = stackOf(exampleConfig());
        configSet(stack, "mailauth:mx", "mail.example.com");
        const message = await programError(stack.values);
        expect(message).toMatch(/^mailauth: 1 configuration problem\(s\); nothing was changed:\n {2}- mailauth:mx: must be an object/);
    });

    it("never echoes a control character raw into the list of problems", async () => {
        const stack = stackOf(exampleConfig());
        configSet(stack, "mailauth:domains[0].name", "example.com\n\u001b[2J- mailauth: all good", { path: true });
        const message = await programError(stack.values);
        expect(message.split("\n").filter((l) => l.startsWith("  - "))).toHaveLength(1);
        expect(message).not.toMatch(/\u001b/);
        expect(message).toContain("\\n\\u001b[2J");
    });
});

describe("warnings at preview", () => {
    afterEach(() => vi.restoreAllMocks());

    it("warns loudly when the host key is not pinned, with the command that pins it", async () => {
        const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
        const config = exampleConfig();
        config["mailauth:ssh"] = { host: "mail.example.com", port: 2222 };
        await runProgram(config, { preview: true });
        const text = warn.mock.calls.map((c) => String(c[0])).join("\n");
        expect(text).toContain("mailauth:ssh.hostKey is not set: the server's identity is NOT checked");
        expect(text).toContain("ssh-keyscan -p 2222 -t ed25519 mail.example.com");
        warn.mockClear();
        await runProgram(exampleConfig(), { preview: true });
        expect(warn.mock.calls.map((c) => String(c[0])).join("\n")).not.toContain("hostKey is not set");
    });

    it("warns once per run, not per domain, while DMARC only watches (p=none with rua), naming the path to enforcement", async () => {
        const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
        const said = () => warn.mock.calls.map((c) => String(c[0])).filter((t) => t.includes("mailauth:dmarc.policy is none"));
        // The example: two domains, p=none, rua set.
        await runProgram(exampleConfig(), { preview: true });
        expect(said()).toHaveLength(1);
        expect(said()[0]).toContain("none -> quarantine with testing (t=y: receivers still apply none) -> quarantine -> reject");
        expect(said()[0]).toContain("pulumi config set --path mailauth:dmarc.policy quarantine; pulumi config set --path mailauth:dmarc.testing true");
        expect(said()[0]).toContain('README: "From p=none to reject"');
        for (const dmarc of [
            { policy: "quarantine", testing: true, rua: ["dmarc-reports@example.com"] },
            { policy: "none" },
            { enabled: false, rua: ["dmarc-reports@example.com"] },
        ]) {
            warn.mockClear();
            await runProgram({ ...exampleConfig(), "mailauth:dmarc": dmarc }, { preview: true });
            expect(said(), JSON.stringify(dmarc)).toEqual([]);
        }
    });

    it("accepts a single-label SSH host (a name from /etc/hosts), as Go's resolver does", async () => {
        const config = exampleConfig();
        config["mailauth:ssh"] = { ...(config["mailauth:ssh"] as object), host: "mailserver" };
        const run = await runProgram(config);
        expect(run.resources.length).toBeGreaterThan(10);
    });
});
