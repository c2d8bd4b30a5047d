import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { splitStdinStep } from "../../components/hostScripts";
import { dkimPublicKey, dkimRecordValue } from "../../components/records/dkim";
import { parseTestKeyOutput } from "../../components/mailHost";
import { exampleConfig, Registered, reveal, Run, runProgram, scriptOf, stagedFile, TEST_SSH_PRIVATE_KEY, unwrapSecret } from "../harness";

const COMMAND = "command:remote:Command";

/** Each file's header: what it is, the stack (project "mailauth", stack "test" under the mocks) and the code that writes it. */
const HEADER = (what: string, source: string) =>
    `# ${what}, written by the mailauth Pulumi stack mailauth/test (${source}, put in place by templates/opendkim.sh).\n` +
    "# Edits here are overwritten; `pulumi destroy` puts back what this host had (kept in /var/lib/mailauth/opendkim).\n";
const OPENDKIM_CONF = (socket: string) => `${HEADER("OpenDKIM configuration", "templates/opendkim.conf")}Syslog                  yes
SyslogSuccess           yes
LogWhy                  yes
# Sign mail from InternalHosts for the domains in SigningTable; verify everything else.
Mode                    sv
Canonicalization        relaxed/simple
OversignHeaders         From
UserID                  opendkim:opendkim
UMask                   007
PidFile                 /run/opendkim/opendkim.pid
Socket                  ${socket}
SendReports             yes
ReportAddress           postmaster@example.com
# One key per domain and selector, instead of the single KeyFile.
KeyTable                /etc/opendkim/KeyTable
SigningTable            refile:/etc/opendkim/SigningTable
ExternalIgnoreList      refile:/etc/opendkim/TrustedHosts
InternalHosts           refile:/etc/opendkim/TrustedHosts
# DNS: OpenDKIM's built-in recursive resolver (libunbound), starting from the root servers.
`;

describe("host configuration under the example config", () => {
    let run: Run;
    beforeAll(async () => {
        run = await runProgram(exampleConfig());
    });
    const commands = () => run.resources.filter((r) => r.type === COMMAND);
    const cmd = (suffix: string) => commands().find((r) => r.name === `mailhost-${suffix}`)!;
    const urn = (r: Registered) => r.urn;

    it("has one step per concern: packages, the keys, OpenDKIM, the keys of dropped selectors, Postfix, the key test", () => {
        expect(
            commands()
                .map((c) => c.name)
                .sort(),
        ).toEqual(["mailhost-packages", "mailhost-keys", "mailhost-keys-retire", "mailhost-opendkim", "mailhost-postfix", "mailhost-testkey"].sort());
    });

    it("renders opendkim.conf exactly, with a unix socket on Debian and the guide's inet socket on EL", () => {
        const script = cmd("opendkim").inputs.stdin;
        expect(stagedFile(script, "opendkim.conf.debian.unbound")).toBe(OPENDKIM_CONF("local:/var/spool/postfix/opendkim/opendkim.sock"));
        expect(stagedFile(script, "opendkim.conf.el.unbound")).toBe(OPENDKIM_CONF("inet:8891@127.0.0.1"));
    });

    it("renders, for an OpenDKIM built without libunbound (EPEL's), a configuration whose DNS comment is true", () => {
        const script = cmd("opendkim").inputs.stdin;
        const unboundComment = "# DNS: OpenDKIM's built-in recursive resolver (libunbound), starting from the root servers.\n";
        const resolvComment = "# DNS: the system resolver (/etc/resolv.conf); this OpenDKIM is built without libunbound (opendkim -V).\n";
        expect(stagedFile(script, "opendkim.conf.el.resolv")).toBe(OPENDKIM_CONF("inet:8891@127.0.0.1").replace(unboundComment, resolvComment));
        expect(stagedFile(script, "opendkim.conf.debian.resolv")).not.toContain("libunbound),");
    });

    it("renders KeyTable, SigningTable and TrustedHosts exactly", () => {
        const script = cmd("opendkim").inputs.stdin;
        expect(stagedFile(script, "KeyTable")).toBe(
            HEADER("OpenDKIM KeyTable", "components/hostFiles.ts renderKeyTable") +
                "20261127._domainkey.example.com example.com:20261127:/etc/opendkim/keys/example.com/20261127.private\n" +
                "20261127._domainkey.example.org example.org:20261127:/etc/opendkim/keys/example.org/20261127.private\n",
        );
        expect(stagedFile(script, "SigningTable")).toBe(
            HEADER("OpenDKIM SigningTable", "components/hostFiles.ts renderSigningTable") +
                "*@example.com 20261127._domainkey.example.com\n*@example.org 20261127._domainkey.example.org\n",
        );
        expect(stagedFile(script, "TrustedHosts")).toBe(
            HEADER("OpenDKIM TrustedHosts (its InternalHosts and ExternalIgnoreList)", "components/hostFiles.ts renderTrustedHosts") +
                "127.0.0.1\n::1\n*.example.com\n*.example.org\n192.0.2.0/24\n",
        );
    });

    it("gives Postfix the guide's settings: policy service, restriction, time limit and the four milter settings", () => {
        const script = scriptOf(cmd("postfix").inputs.create, cmd("postfix").inputs.stdin);
        expect(script).toContain(`SPF_CHECK='check_policy_service unix:private/policyd-spf'`);
        expect(script).toContain(`SPF_TIME_LIMIT='3600'`);
        expect(script).toContain(`want_entry="$SPF_SERVICE unix - n n - 0 spawn user=policyd-spf argv=$POLICYD_SPF_BIN"`);
        expect(script).toMatch(/el\)\n\s+POLICYD_SPF_BIN='\/usr\/libexec\/postfix\/policyd-spf'\n\s+MILTER='inet:127.0.0.1:8891'/);
        expect(script).toMatch(/debian\)\n\s+POLICYD_SPF_BIN='\/usr\/bin\/policyd-spf'\n\s+MILTER='unix:opendkim\/opendkim.sock'/);
        for (const setting of [
            '"milter_default_action=accept"',
            '"milter_protocol=6"',
            '"smtpd_milters=$want_smtpd_milters"',
            '"non_smtpd_milters=$want_non_smtpd_milters"',
        ]) {
            expect(script).toContain(setting);
        }
    });

    it("installs each key from stdin: secret, never in a command's text, output not logged and secret", () => {
        // One step for every key: its stdin, after the script, holds each key with its file, its
        // published p= and its own p= (the host installs only the published one).
        const keys = cmd("keys");
        const stdin = unwrapSecret(keys.inputs.stdin);
        expect(stdin.secret).toBe(true);
        const { script, stdin: own } = splitStdinStep(keys.inputs.create, stdin.value)!;
        expect(script).toContain("# mailauth step: dkim-key ");
        expect(own).toBe(
            ["example.com", "example.org"]
                .map((d) => {
                    const { privateKeyPem: pem, publicKeyPem } = run.keys.get(`${d}-20261127-rsa`)!;
                    const p = dkimPublicKey(dkimRecordValue(publicKeyPem));
                    return `#mailauth-key /etc/opendkim/keys/${d}/20261127.private ${d} 20261127 ${p} ${p}\n${pem}`;
                })
                .join("") + "#mailauth-end 2\n",
        );
        expect(keys.inputs.logging).toBe("none");
        expect(keys.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
        expect(keys.inputs.create.length).toBeLessThan(300);
        // The PEM lines of a private key, less those that are also in its public key (the modulus).
        const publicText = [...run.keys.values()].map((k) => dkimRecordValue(k.publicKeyPem)).join(" ");
        const body = (pem: string) => pem.split("\n").filter((l) => l && !l.startsWith("-----") && !publicText.includes(l));
        // Secrets opened first: a secret command's envelope would stringify to "[object Object]".
        for (const c of commands()) {
            for (const field of ["create", "update", "delete"]) {
                const value = reveal(c.inputs[field]);
                if (value === undefined) continue;
                expect(typeof value, `${c.name}.${field}`).toBe("string");
            }
            // Every input but stdin (the key's only way in) and the connection (the SSH key's).
            const { stdin: _stdin, connection: _connection, ...rest } = reveal(c.inputs);
            const text = JSON.stringify(rest);
            for (const { privateKeyPem } of run.keys.values()) {
                expect(body(privateKeyPem).length).toBeGreaterThan(15);
                for (const line of body(privateKeyPem)) expect(text.includes(line), c.name).toBe(false);
            }
            for (const line of body(TEST_SSH_PRIVATE_KEY)) expect(text.includes(line), c.name).toBe(false);
            expect(c.inputs.addPreviousOutputInEnv).toBe(false);
        }
    });

    it("undoes before it redoes when a step is replaced (deleteBeforeReplace on every step that has a delete)", () => {
        for (const c of commands()) {
            expect(c.deleteBeforeReplace, c.name).toBe(c.inputs.delete !== undefined);
        }
        expect(cmd("opendkim").deleteBeforeReplace).toBe(true);
    });

    it("keeps the SSH private key secret and pins the host key", () => {
        for (const c of commands()) {
            const conn = unwrapSecret(c.inputs.connection);
            const privateKey = unwrapSecret(conn.value.privateKey);
            expect(conn.secret || privateKey.secret).toBe(true);
            expect(privateKey.value).toBe(TEST_SSH_PRIVATE_KEY);
            expect(conn.value).toMatchObject({ host: "192.0.2.25", port: 22, user: "root" });
            expect(conn.value.hostKey).toMatch(/^ssh-ed25519 /);
        }
    });

    it("runs the steps in order: packages, keys, DKIM records, OpenDKIM, Postfix, key test", () => {
        const deps = (suffix: string) => cmd(suffix).dependencies;
        const keys = [cmd("keys")];
        for (const k of keys) expect(k.dependencies).toContain(urn(cmd("packages")));
        const dkimRecords = run.resources.filter((r) => /-dkim-/.test(r.name) && r.type.startsWith("cloudflare"));
        expect(dkimRecords).toHaveLength(2);
        for (const dep of [...keys, ...dkimRecords]) expect(deps("opendkim")).toContain(urn(dep));
        expect(deps("postfix")).toContain(urn(cmd("opendkim")));
        expect(deps("keys-retire")).toContain(urn(cmd("opendkim")));
        expect(deps("testkey")).toContain(urn(cmd("postfix")));
    });

    it("reads the key test's verdict per domain from its output", () => {
        expect(parseTestKeyOutput("example.com s1 key OK\nexample.org s1 not verified: record not found\n")).toEqual({
            "example.com": "key OK",
            "example.org": "not verified: record not found",
        });
    });

    it("exports the key test verdict per domain, and no secret anywhere in the outputs", () => {
        expect(run.outputs.testKey).toEqual({ "example.com": "key OK", "example.org": "key OK" });
        const text = JSON.stringify(run.outputs);
        for (const { privateKeyPem } of run.keys.values()) expect(text).not.toContain(privateKeyPem.split("\n")[1]);
        expect(text).not.toContain(TEST_SSH_PRIVATE_KEY.split("\n")[1]);
    });

    it("runs every command as root directly, or through sudo -n for another user", async () => {
        for (const c of commands()) expect(c.inputs.create).toMatch(/^bash -c '/);
        const config = exampleConfig();
        config["mailauth:ssh"] = { ...(config["mailauth:ssh"] as object), user: "deploy" };
        const other = await runProgram(config);
        for (const c of other.resources.filter((r) => r.type === COMMAND)) {
            expect(c.inputs.create).toMatch(/^sudo -n bash -c '/);
        }
    });

    // SC2317 (unreachable) is excluded: each step uses only some of the helpers of templates/lib.sh.
    it("passes shellcheck on every generated script", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-sc-"));
        const files: string[] = [];
        for (const c of commands()) {
            for (const field of ["create", "delete"]) {
                if (!c.inputs[field]) continue;
                const file = path.join(dir, `${c.name}.${field}.sh`);
                fs.writeFileSync(file, scriptOf(c.inputs[field], field === "create" ? reveal(c.inputs.stdin) : undefined));
                files.push(file);
                // The short command that runs a script arriving on stdin (components/hostScripts.ts stdinCommandLine).
                const runner = String(c.inputs[field]).match(/^(?:sudo -n )?bash -c '(.*)' mailauth-[a-z-]+$/s);
                if (runner) {
                    const runnerFile = path.join(dir, `${c.name}.${field}.runner.sh`);
                    fs.writeFileSync(runnerFile, `#!/bin/bash\n${runner[1].replace(/'\\''/g, "'")}\n`);
                    files.push(runnerFile);
                }
            }
        }
        expect(files.length).toBeGreaterThanOrEqual(11);
        const result = (() => {
            try {
                return execFileSync("shellcheck", ["--shell=bash", "--severity=style", "--exclude=SC2317", ...files], { encoding: "utf8" });
            } catch (e: any) {
                return e.stdout || String(e);
            }
        })();
        expect(result).toBe("");
    });
});

describe("pulumi preview", () => {
    it("shows every host step with its files and Postfix settings before anything exists", async () => {
        const run = await runProgram(exampleConfig(), { preview: true });
        const opendkim = run.resources.find((r) => r.name === "mailhost-opendkim")!;
        expect(typeof opendkim.inputs.create).toBe("string");
        expect(stagedFile(opendkim.inputs.stdin, "SigningTable")).toContain("*@example.com 20261127._domainkey.example.com");
        const postfix = run.resources.find((r) => r.name === "mailhost-postfix")!;
        expect(scriptOf(postfix.inputs.create, postfix.inputs.stdin)).toContain("SPF_CHECK='check_policy_service unix:private/policyd-spf'");
        const spf = run.resources.find((r) => r.name === "example.com-spf")!;
        expect(spf.inputs.content).toBe('"v=spf1 mx ip4:192.0.2.25 ~all"');
    });
});
