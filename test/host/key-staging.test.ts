/**
 * The key step stages each private key where only root writes: every directory from
 * /etc/opendkim down to the key's own is root's, so the opendkim user cannot swap the staged file
 * for a link before root chowns and moves it. Runs the real rendered keys step (test/host/fakeHost.ts runOnEl),
 * which installs every key of the host: example.com's is the one looked at here.
 */
import * as crypto from "crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { exampleConfig, reveal, runProgram, scriptOf } from "../harness";
import { splitStdinStep } from "../../components/hostScripts";
import { runOnEl, Scenario } from "./fakeHost";

const ALMA_9 = 'NAME="AlmaLinux"\nID="almalinux"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.5"\nPRETTY_NAME="AlmaLinux 9.5"\n';
const KEY_DIR = "/etc/opendkim/keys/example.com";
const KEY = `${KEY_DIR}/20261127.private`;
const STAT = `stat -c '%n %U:%G %a' /etc/opendkim /etc/opendkim/keys ${KEY_DIR} ${KEY}; cat ${KEY} | md5sum`;

let script: string;
let deleteScript: string;
let pem: string;
let keys: string;
beforeAll(async () => {
    const run = await runProgram(exampleConfig());
    const step = run.resources.find((r) => r.name === "mailhost-keys")!;
    const split = splitStdinStep(step.inputs.create, reveal(step.inputs.stdin))!;
    script = split.script;
    keys = split.stdin;
    deleteScript = scriptOf(step.inputs.delete);
    pem = run.keys.get("example.com-20261127-rsa")!.privateKeyPem;
}, 60_000);

const host = (setup: string, after = STAT): Scenario => ({ osRelease: ALMA_9, major: "9", repos: [], setup, stdin: keys, after });
const md5 = (s: string) => crypto.createHash("md5").update(s).digest("hex");

describe.concurrent("DKIM keys are staged where only root writes", () => {
    it("on a host set up by the guide (keys/ chown -R opendkim), the key directories become root's and the key opendkim's 0600", async () => {
        const r = await runOnEl(
            host(`install -d -m 0755 /etc/opendkim; mkdir -p ${KEY_DIR}; chown -R opendkim:opendkim /etc/opendkim/keys; chmod 0700 ${KEY_DIR}`),
            script,
        );
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.after).toBe(
            "/etc/opendkim root:root 755\n" +
                "/etc/opendkim/keys root:opendkim 750\n" +
                `${KEY_DIR} root:opendkim 750\n` +
                `${KEY} opendkim:opendkim 600\n` +
                `${md5(pem)}  -\n`,
        );
        expect(r.stdout).toContain(`installed: ${KEY}\n`);
    });

    it("on a fresh host, makes the directories as EPEL's package ships keys/ (root:opendkim 0750)", async () => {
        const r = await runOnEl(host("rm -rf /etc/opendkim"), script);
        expect(r.code).toBe(0);
        expect(r.after).toContain(`/etc/opendkim/keys root:opendkim 750\n${KEY_DIR} root:opendkim 750\n${KEY} opendkim:opendkim 600\n`);
    });

    it("refuses when /etc/opendkim is writable by another user (who could swap keys/), before writing anything", async () => {
        const r = await runOnEl(host("install -d -m 0755 -o opendkim -g opendkim /etc/opendkim", `ls -A /etc/opendkim`), script);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(
            /mailauth: \/etc\/opendkim is writable by a user other than root \(opendkim:opendkim 755\); another user could swap the key being written\. Make it root's and not group- or world-writable \(chown root \/etc\/opendkim; chmod go-w \/etc\/opendkim\)/,
        );
        expect(r.after).toBe("");
    });

    it("refuses to write through a key directory that is a symbolic link, leaving its target alone", async () => {
        const r = await runOnEl(
            host(
                "install -d -m 0755 /etc/opendkim; install -d -m 0750 -o root -g opendkim /etc/opendkim/keys; install -d -m 0700 -o opendkim /run/elsewhere; ln -s /run/elsewhere " +
                    KEY_DIR,
                "stat -c '%U %a' /run/elsewhere; ls -A /run/elsewhere",
            ),
            script,
        );
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(`mailauth: ${KEY_DIR} is a symbolic link; refusing to write a private key through it`);
        expect(r.after).toBe("opendkim 700\n");
    });

    it("an unchanged key with the right owner and mode is left alone", async () => {
        const setup = `install -d -m 0755 /etc/opendkim; install -d -m 0750 -o root -g opendkim /etc/opendkim/keys ${KEY_DIR}; cat >${KEY} <<'EOF'\n${pem}EOF\nchown opendkim:opendkim ${KEY}; chmod 0600 ${KEY}`;
        const r = await runOnEl(host(setup), script);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain(`unchanged: ${KEY}\n`);
    });

    it("the key's delete takes away the directories the stack made, and only those", async () => {
        const del = `bash >/dev/null 2>&1 <<'MAILAUTH_DELETE' || echo "the delete failed"\n${deleteScript}\nMAILAUTH_DELETE\n`;
        // A fresh host: /etc/opendkim and keys/ are the stack's, and go with the last key.
        const fresh = await runOnEl(host("rm -rf /etc/opendkim", `${del}ls -d /etc/opendkim 2>&1; ls -A /var/lib/mailauth`), script);
        expect(fresh.code).toBe(0);
        expect(fresh.after).toBe("ls: cannot access '/etc/opendkim': No such file or directory\n");
        // A host that had /etc/opendkim with a file of its own keeps both; keys/ (the stack's) goes.
        const own = await runOnEl(
            host("install -d -m 0755 /etc/opendkim; echo mine >/etc/opendkim/notes", `${del}ls -A /etc/opendkim; cat /var/lib/mailauth/created-dirs 2>&1`),
            script,
        );
        expect(own.code).toBe(0);
        expect(own.after).toBe("notes\ncat: /var/lib/mailauth/created-dirs: No such file or directory\n");
    });
});
