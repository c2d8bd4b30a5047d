/**
 * mailauth:policydSpf: its validation (every problem at once, each naming the setting and what is
 * allowed), what it gives the host step, that the step exists only when a setting asks for it
 * (a stack without them keeps exactly its steps), and the step's generated scripts under
 * shellcheck. What the step does on a host: test/host/policyd-spf.test.ts.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { validateSettings, RawSettings } from "../../components/settings";
import { policydSpfVars } from "../../components/mailHost";
import { exampleConfig, reveal, runProgram, scriptOf } from "../harness";
import { settingsProblems } from "../settings-problems";

function raw(policydSpf: unknown, patch: Partial<RawSettings> = {}): RawSettings {
    const c = exampleConfig();
    return {
        domains: c["mailauth:domains"],
        mx: c["mailauth:mx"],
        ssh: c["mailauth:ssh"],
        sshPrivateKey: "ok",
        policydSpf,
        ...patch,
    } as RawSettings;
}

const problems = settingsProblems;

const P = "mailauth:policydSpf";

describe("mailauth:policydSpf validation", () => {
    const cases: [string, unknown, RegExp][] = [
        [
            "heloReject unknown",
            { heloReject: "Reject" },
            /^mailauth:policydSpf\.heloReject: must be one of SPF_Not_Pass, Softfail, Fail, Null, False, No_Check, got "Reject"$/,
        ],
        [
            "heloReject in lower case",
            { heloReject: "softfail" },
            /^mailauth:policydSpf\.heloReject: must be one of SPF_Not_Pass, Softfail, Fail, Null, False, No_Check, got "softfail"$/,
        ],
        [
            "mailFromReject Null (HELO only)",
            { mailFromReject: "Null" },
            /^mailauth:policydSpf\.mailFromReject: must be one of SPF_Not_Pass, Softfail, Fail, False, No_Check, got "Null"$/,
        ],
        [
            "heloReject false, as the CLI stores it",
            { heloReject: false },
            /^mailauth:policydSpf\.heloReject: policyd-spf reads its words with their capitals, so false would not be understood; use "False"/,
        ],
        ['mailFromReject "false"', { mailFromReject: "false" }, /^mailauth:policydSpf\.mailFromReject: policyd-spf reads its words with their capitals/],
        [
            "skip entry not a network",
            { skipAddresses: ["mx2.example.com"] },
            /^mailauth:policydSpf\.skipAddresses: "mx2\.example\.com" is not an IPv4 or IPv6 network; give an address or a CIDR block/,
        ],
        ["skip prefix too long", { skipAddresses: ["192.0.2.0/33"] }, /^mailauth:policydSpf\.skipAddresses: "192\.0\.2\.0\/33" is not an IPv4 or IPv6 network/],
        ["skip netmask form", { skipAddresses: ["192.0.2.0/255.255.255.0"] }, /"192\.0\.2\.0\/255\.255\.255\.0" is not an IPv4 or IPv6 network/],
        ["skip with a blank", { skipAddresses: ["192.0.2.1, 192.0.2.2"] }, /"192\.0\.2\.1, 192\.0\.2\.2" is not an IPv4 or IPv6 network/],
        [
            "skip IPv4 host bits",
            { skipAddresses: ["192.0.2.1/24"] },
            /^mailauth:policydSpf\.skipAddresses: "192\.0\.2\.1\/24" has host bits set, .*; write the network, 192\.0\.2\.0\/24$/,
        ],
        ["skip IPv6 host bits", { skipAddresses: ["2001:db8::1/32"] }, /"2001:db8::1\/32" has host bits set, .*write the network, 2001:db8::\/32$/],
        [
            "skip everything",
            { skipAddresses: ["0.0.0.0/0"] },
            /^mailauth:policydSpf\.skipAddresses: "0\.0\.0\.0\/0" is every address: no mail would be SPF-checked/,
        ],
        ["skip everything, IPv6", { skipAddresses: ["::/0"] }, /"::\/0" is every address/],
        ["skip not a list", { skipAddresses: "192.0.2.17" }, /^mailauth:policydSpf\.skipAddresses: must be a list of strings, got "192\.0\.2\.17"$/],
        [
            "unknown key",
            { skip_addresses: ["192.0.2.17"] },
            /^mailauth:policydSpf\.skip_addresses: unknown setting; allowed here: skipAddresses, heloReject, mailFromReject$/,
        ],
        ["not an object", "Fail", /^mailauth:policydSpf: must be an object with skipAddresses, heloReject, mailFromReject/],
    ];
    it.each(cases)("%s", (_, value, message) => {
        const found = problems(raw(value));
        expect(found).toHaveLength(1);
        expect(found[0]).toMatch(message);
    });

    it("reports every problem at once, with the other settings' problems", () => {
        const found = problems(raw({ heloReject: "Hard", mailFromReject: "Null", skipAddresses: ["10.0.0.1/8", "mx2"] }, { ttl: 5 }));
        expect(found.filter((p) => p.startsWith(P))).toHaveLength(4);
        expect(found.some((p) => p.startsWith("mailauth:ttl:"))).toBe(true);
    });

    it("unset: nothing to write, no key touched", () => {
        const s = validateSettings(raw(undefined)).policydSpf;
        expect(s).toEqual({ skipAddresses: [], heloReject: undefined, mailFromReject: undefined, skipList: undefined });
        expect(policydSpfVars(s)).toBeUndefined();
    });

    it("the skip list written is the package's three, then the user's new ones (the same network once)", () => {
        const s = validateSettings(
            raw({ skipAddresses: ["192.0.2.17", "::1/128", "198.51.100.0/24", "192.0.2.17/32", "2001:DB8:1::/48"], heloReject: "Null" }),
        ).policydSpf;
        expect(s.skipList).toBe("127.0.0.0/8,::ffff:127.0.0.0/104,::1,192.0.2.17,198.51.100.0/24,2001:DB8:1::/48");
        expect(policydSpfVars(s)).toEqual({ HELO_REJECT: "Null", MAIL_FROM_REJECT: "", SKIP_ADDRESSES: s.skipList });
        // Only the package's own entries: that is its default, the key is left alone.
        expect(validateSettings(raw({ skipAddresses: ["127.0.0.0/8", "::1"] })).policydSpf.skipList).toBeUndefined();
    });
});

describe("the policyd-spf step", () => {
    const config = (policydSpf: unknown) => ({ ...exampleConfig(), "mailauth:policydSpf": policydSpf });

    it("exists only when a setting asks for it; Postfix's step then comes after it", async () => {
        const plain = await runProgram(exampleConfig());
        expect(plain.resources.map((r) => r.name)).not.toContain("mailhost-policyd-spf");
        const none = await runProgram(config({ skipAddresses: ["::1"] }));
        expect(none.resources.map((r) => r.name)).not.toContain("mailhost-policyd-spf");

        const run = await runProgram(config({ mailFromReject: "Softfail" }));
        const step = run.resources.find((r) => r.name === "mailhost-policyd-spf")!;
        expect(step).toBeDefined();
        const packages = run.resources.find((r) => r.name === "mailhost-packages")!;
        expect(step.dependencies).toContain(packages.urn);
        const postfix = run.resources.find((r) => r.name === "mailhost-postfix")!;
        expect(postfix.dependencies).toContain(step.urn);
        const script = scriptOf(step.inputs.create, reveal(step.inputs.stdin));
        expect(script).toContain("MAIL_FROM_REJECT='Softfail'\n");
        expect(script).toContain("HELO_REJECT=''\n");
        expect(script).toContain("POLICYD_SPF_CONF='/etc/postfix-policyd-spf-python/policyd-spf.conf'");
        expect(script).toContain("POLICYD_SPF_CONF='/etc/python-policyd-spf/policyd-spf.conf'");
    });

    it("passes shellcheck, create and delete", async () => {
        const run = await runProgram(config({ skipAddresses: ["192.0.2.17"], heloReject: "Fail", mailFromReject: "False" }));
        const step = run.resources.find((r) => r.name === "mailhost-policyd-spf")!;
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-sc-"));
        const files = (["create", "delete"] as const).map((field) => {
            const file = path.join(dir, `policyd-spf.${field}.sh`);
            fs.writeFileSync(file, scriptOf(step.inputs[field], field === "create" ? reveal(step.inputs.stdin) : undefined));
            return file;
        });
        const out = (() => {
            try {
                return execFileSync("shellcheck", ["--shell=bash", "--severity=style", "--exclude=SC2317", ...files], { encoding: "utf8" });
            } catch (e: any) {
                return e.stdout || String(e);
            }
        })();
        fs.rmSync(dir, { recursive: true, force: true });
        expect(out).toBe("");
    });
});
