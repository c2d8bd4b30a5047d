/**
 * The host side of several hosts (issue 21, components/mailHost.ts): a host that does not sign
 * (`sign: false`, an inbound-only backup MX) and a host's own `skipAddresses`, under Pulumi's
 * mocks with index.ts as it is (test/harness.ts RunOptions.mailHostArgs gives the arguments).
 * The scripts themselves run on throwaway hosts in test/host/roles.test.ts.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildScript, templateInputs } from "../../components/hostScripts";
import { mergeSkipAddresses, policydSpfVars } from "../../components/mailHost";
import { loadTemplate, selectBlocks } from "../../components/templates";
import { exampleConfig, reveal, Run, runProgram, scriptOf } from "../harness";

const COMMAND = "command:remote:Command";
const commands = (run: Run) => run.resources.filter((r) => r.type === COMMAND);
const step = (run: Run, suffix: string) => commands(run).find((r) => r.name === `mailhost-${suffix}`)!;
const script = (run: Run, suffix: string) => scriptOf(step(run, suffix).inputs.create, reveal(step(run, suffix).inputs.stdin));
/** A script's value of a per-family variable, for one family. */
const familyValue = (text: string, family: string, name: string) =>
    text.match(new RegExp(`    ${family}\\)\\n(?:        .*\\n)*?        ${name}='([^']*)'`))?.[1];

describe("a host that does not sign (sign: false)", () => {
    let signing: Run;
    let inbound: Run;
    beforeAll(async () => {
        signing = await runProgram(exampleConfig());
        inbound = await runProgram(exampleConfig(), { mailHostArgs: () => ({ sign: false }) });
    });

    it("registers packages and Postfix only: no keys, OpenDKIM, retire or key test step", () => {
        expect(commands(inbound).map((c) => c.name)).toEqual(["mailhost-packages", "mailhost-postfix"]);
        // The same names (URNs) as a signing host's steps: a host changing role keeps them.
        const urns = (run: Run) => new Map(commands(run).map((c) => [c.name, c.urn]));
        for (const [name, urn] of urns(inbound)) expect(urns(signing).get(name)).toBe(urn);
        expect(commands(signing).map((c) => c.name)).toEqual(
            expect.arrayContaining(["mailhost-keys", "mailhost-opendkim", "mailhost-keys-retire", "mailhost-testkey"]),
        );
        expect(step(inbound, "postfix").dependencies).toEqual([step(inbound, "packages").urn]);
        expect(inbound.outputs.testKey).toEqual({});
    });

    it("installs the SPF agent's package alone, and checks no OpenDKIM resolver", () => {
        const packages = script(inbound, "packages");
        expect(familyValue(packages, "debian", "PACKAGES")).toBe("postfix-policyd-spf-python");
        expect(familyValue(packages, "el", "PACKAGES")).toBe("pypolicyd-spf");
        expect(packages).toContain("\nNAMESERVERS=''\n");
        expect(familyValue(script(signing, "packages"), "debian", "PACKAGES")).toBe("opendkim opendkim-tools postfix-policyd-spf-python");
    });

    it("gives Postfix the policy service and no milter setting; its delete is a signing host's", () => {
        const postfix = script(inbound, "postfix");
        expect(postfix).toContain(`"smtpd_recipient_restrictions=$want_restrictions"`);
        expect(postfix).toContain(`want_entry="$SPF_SERVICE unix - n n - 0 spawn user=policyd-spf argv=$POLICYD_SPF_BIN"`);
        for (const text of ["milter_default_action=accept", "milter_protocol=6", '"smtpd_milters=', "KNOWN_MILTERS", "OPENDKIM_CONF", "with_milter"]) {
            expect(postfix).not.toContain(text);
        }
        expect(postfix).not.toMatch(/^#@/m);
        expect(
            postfix
                .match(/^desired=\(\n([\s\S]*?)\n\)/m)![1]
                .trim()
                .split(/\s+/),
        ).toEqual(['"policyd-spf_time_limit=$SPF_TIME_LIMIT"', '"smtpd_recipient_restrictions=$want_restrictions"']);
        expect(step(inbound, "postfix").inputs.delete).toBe(step(signing, "postfix").inputs.delete);
        expect(step(inbound, "packages").inputs.delete).toBe(step(signing, "packages").inputs.delete);
    });

    it("a signing host's scripts hold no block marker, and its Postfix script is the template less its non-signing lines", () => {
        for (const c of commands(signing)) {
            for (const field of ["create", "delete"]) {
                if (c.inputs[field]) expect(scriptOf(c.inputs[field], field === "create" ? reveal(c.inputs.stdin) : undefined)).not.toMatch(/^#@/m);
            }
        }
        const raw = fs.readFileSync(path.join(__dirname, "..", "..", "templates", "postfix.sh"), "utf8");
        const signingLines = raw.replace(/^#@else\n[\s\S]*?^#@end\n/gm, "").replace(/^#@(if signing|end)\n/gm, "");
        expect(script(signing, "postfix")).toContain(signingLines);
    });

    it("passes shellcheck, every script it runs", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-sc-roles-"));
        const files = commands(inbound).flatMap((c) =>
            ["create", "delete"]
                .filter((f) => c.inputs[f])
                .map((f) => {
                    const file = path.join(dir, `${c.name}.${f}.sh`);
                    fs.writeFileSync(file, scriptOf(c.inputs[f], f === "create" ? reveal(c.inputs.stdin) : undefined));
                    return file;
                }),
        );
        expect(files).toHaveLength(4);
        let out = "";
        try {
            out = execFileSync("shellcheck", ["--shell=bash", "--severity=style", "--exclude=SC2317", ...files], { encoding: "utf8" });
        } catch (e: any) {
            out = e.stdout || String(e);
        }
        expect(out).toBe("");
    });

    it("with skipAddresses (or mailauth:policydSpf), has the policyd-spf step before Postfix", async () => {
        const run = await runProgram(exampleConfig(), { mailHostArgs: () => ({ sign: false, skipAddresses: ["192.0.2.25"] }) });
        expect(commands(run).map((c) => c.name)).toEqual(["mailhost-packages", "mailhost-policyd-spf", "mailhost-postfix"]);
        expect(script(run, "policyd-spf")).toContain("\nSKIP_ADDRESSES='127.0.0.0/8,::ffff:127.0.0.0/104,::1,192.0.2.25'\n");
        expect(step(run, "postfix").dependencies.sort()).toEqual([step(run, "packages").urn, step(run, "policyd-spf").urn].sort());
    });
});

describe("skipAddresses: merged into policyd-spf's skip_addresses", () => {
    it("unset or empty: the step and its values are the setting's alone, as before", async () => {
        expect(policydSpfVars(undefined, [])).toBeUndefined();
        expect(policydSpfVars(undefined)).toBeUndefined();
        const settings = {
            heloReject: "Softfail" as const,
            mailFromReject: undefined,
            skipAddresses: ["198.51.100.7"],
            skipList: "127.0.0.0/8,::ffff:127.0.0.0/104,::1,198.51.100.7",
        };
        expect(policydSpfVars(settings as never, [])).toEqual(policydSpfVars(settings as never));
        const plain = await runProgram(exampleConfig());
        const empty = await runProgram(exampleConfig(), { mailHostArgs: () => ({ skipAddresses: [] }) });
        expect(commands(empty).map((c) => [c.name, reveal(c.inputs)])).toEqual(commands(plain).map((c) => [c.name, reveal(c.inputs)]));
        expect(commands(empty).map((c) => c.name)).not.toContain("mailhost-policyd-spf");
    });

    it("after the setting's entries; an address an entry already covers is not repeated", () => {
        expect(mergeSkipAddresses(undefined, ["192.0.2.25", "2001:db8::25"])).toBe("127.0.0.0/8,::ffff:127.0.0.0/104,::1,192.0.2.25,2001:db8::25");
        expect(mergeSkipAddresses("127.0.0.0/8,::ffff:127.0.0.0/104,::1,198.51.100.0/24", ["198.51.100.7", "192.0.2.25"])).toBe(
            "127.0.0.0/8,::ffff:127.0.0.0/104,::1,198.51.100.0/24,192.0.2.25",
        );
        // Covered by the package's own entries (loopback) or the setting's: the setting's list stands, or none.
        expect(mergeSkipAddresses(undefined, ["127.0.0.1", "::1"])).toBeUndefined();
        expect(mergeSkipAddresses("127.0.0.0/8,::ffff:127.0.0.0/104,::1,192.0.2.0/24", ["192.0.2.25"])).toBe(
            "127.0.0.0/8,::ffff:127.0.0.0/104,::1,192.0.2.0/24",
        );
        expect(policydSpfVars(undefined, ["192.0.2.25"])).toEqual({
            HELO_REJECT: "",
            MAIL_FROM_REJECT: "",
            SKIP_ADDRESSES: "127.0.0.0/8,::ffff:127.0.0.0/104,::1,192.0.2.25",
        });
    });

    it("an entry policyd-spf could not read is refused (it would end the whole list there)", () => {
        for (const bad of ["mail.example.com", "192.0.2.25/24", "192.0.2.256", "2001:db8::1 "]) {
            expect(() => mergeSkipAddresses(undefined, [bad])).toThrow(
                `MailHost skipAddresses: ${JSON.stringify(bad)} is not an IPv4 or IPv6 address or network`,
            );
        }
    });
});

describe("template blocks (#@if signing)", () => {
    it("keeps one side of each block and drops the markers; a text without blocks is unchanged", () => {
        const text = "a\n#@if signing\nb\n#@else\nc\n#@end\nd\n#@if signing\ne\n#@end\n";
        expect(selectBlocks(text, { signing: true })).toBe("a\nb\nd\ne\n");
        expect(selectBlocks(text, { signing: false })).toBe("a\nc\nd\n");
        expect(selectBlocks("x\n# @if not a marker\n", { signing: false })).toBe("x\n# @if not a marker\n");
    });

    it("refuses a nested, unknown, unbalanced or unterminated block", () => {
        expect(() => selectBlocks("#@if signing\n#@if signing\n#@end\n#@end\n", { signing: true }, "t.sh")).toThrow("t.sh:2: #@if inside another #@if block");
        expect(() => selectBlocks("#@if fast\n#@end\n", { signing: true }, "t.sh")).toThrow('t.sh:1: unknown condition "fast"');
        expect(() => selectBlocks("#@else\n", { signing: true }, "t.sh")).toThrow("t.sh:1: #@else outside an #@if block");
        expect(() => selectBlocks("#@end\n", { signing: true }, "t.sh")).toThrow("t.sh:1: #@end outside an #@if block");
        expect(() => selectBlocks("#@if signing\nx\n", { signing: true }, "t.sh")).toThrow("t.sh: #@if block without #@end");
    });

    it("each side declares its own inputs, and a step must give exactly those", () => {
        expect(templateInputs("postfix")).toEqual([
            "SPF_SERVICE",
            "SPF_CHECK",
            "SPF_TIME_LIMIT",
            "KNOWN_MILTERS",
            "POLICYD_SPF_BIN",
            "MILTER",
            "OPENDKIM_CONF",
        ]);
        expect(templateInputs("postfix", { signing: false })).toEqual(["SPF_SERVICE", "SPF_CHECK", "SPF_TIME_LIMIT", "POLICYD_SPF_BIN", "MILTER"]);
        const vars = { SPF_SERVICE: "policyd-spf", SPF_CHECK: "x", SPF_TIME_LIMIT: "3600" };
        expect(() => buildScript({ template: "postfix", signing: false, familyVars: ["POLICYD_SPF_BIN", "MILTER"], vars })).not.toThrow();
        expect(() => buildScript({ template: "postfix", familyVars: ["POLICYD_SPF_BIN", "MILTER"], vars })).toThrow(
            "templates/postfix.sh: needs KNOWN_MILTERS, OPENDKIM_CONF, not provided",
        );
        expect(loadTemplate("postfix.sh")).not.toMatch(/^#@/m);
    });
});
