/**
 * A stack made by the program before the keys step (one step per selector,
 * mailhost-key-<domain>-<selector>, commit f6bf28e) upgraded to today's program: the old steps
 * leave the program, so the engine deletes them at the end of the run, each with the delete
 * script and stdin kept in its state (pulumi-command commandController.go:86-92 Delete runs
 * props.Delete from the state). That old script (templates/dkim-key-delete.sh at f6bf28e) leaves
 * a key that OpenDKIM's KeyTable names, and by then the new keys step has taken every key as its
 * own. Both programs run under the lab's runner (the engine's order and state, test/lab/runner.ts)
 * against a throwaway host running the real scripts (test/host/fakeHost.ts); after every command
 * each key the KeyTable in force names must be in place, with the content it had: no signing gap.
 */
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from "vitest";
import { exampleConfig, ROOT, runProgram, TEST_SSH_PRIVATE_KEY } from "../harness";
import { LabRunner, RemoteCommandError, RemoteExec } from "../lab/runner";
import { Zone } from "./zone";
import { FakeHost } from "./fakeHost";

/** The last commit with a host step per key. */
const OLD_COMMIT = "f6bf28e6a148e4ebd3d8dd7777c1aafa6a8be51f";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-key-migration-"));
let oldProgram: typeof runProgram;
beforeAll(async () => {
    // The old program's tree, as `git archive` gave it (test/fixtures/program-f6bf28e.tar.gz, made by
    // git archive f6bf28e components templates index.ts Pulumi.yaml Pulumi.example.yaml package.json
    // tsconfig.json test/harness.ts test/cli.ts test/cloudflare.ts test/cloudflare-https.cjs
    // test/keys.global.ts test/lab/runner.ts test/lab/lab.ts | gzip -9n): a clone without history runs
    // it too. Its modules resolve this checkout's node_modules.
    const tree = path.join(dir, "old");
    fs.mkdirSync(tree);
    execFileSync("tar", ["-xzf", path.join(ROOT, "test/fixtures", `program-${OLD_COMMIT.slice(0, 7)}.tar.gz`), "-C", tree]);
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(tree, "node_modules"));
    oldProgram = (await import(path.join(tree, "test/harness.ts"))).runProgram;
}, 120_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let host: FakeHost;
let zone: Zone;
/** Problems seen after each command: a key the KeyTable in force names that is missing or changed. */
let gaps: string[];
/** The key files as the old program installed them: path -> sha256. */
let keysBefore: Map<string, string>;
let exec: RemoteExec;
let n = 0;

/** Every key file the KeyTable in force names, with the sha256 of its content ("missing" when absent). */
function namedKeys(): Map<string, string> {
    const out = host.sh(
        `sed -e 's/#.*//' /etc/opendkim/KeyTable 2>/dev/null | awk '{ split($2, a, ":"); print a[3] }' | while read -r f; do [ -n "$f" ] || continue; if [ -f "$f" ]; then echo "$f $(sha256sum <"$f" | cut -c1-64) $(stat -c '%U%a' "$f")"; else echo "$f missing -"; fi; done`,
    );
    return new Map(
        out
            .trim()
            .split("\n")
            .filter(Boolean)
            .map((l) => {
                const [f, h, o] = l.split(" ");
                return [f, `${h} ${o}`];
            }),
    );
}

beforeEach(async () => {
    host = await FakeHost.start();
    host.write("/etc/postfix/main.cf", "compatibility_level = 3.6\nmyhostname = mail.example.com\nmydestination = localhost\ninet_interfaces = all\n");
    host.sh("useradd --system --user-group --no-create-home --shell /usr/sbin/nologin opendkim; install -d -o opendkim -g opendkim /run/opendkim");
    host.write("/etc/opendkim.conf", "Syslog\t\t\tyes\nUserID\t\t\topendkim\nUMask\t\t\t007\nSocket\t\t\tlocal:/run/opendkim/opendkim.sock\n");
    host.write("/var/lib/fakehost/packages", "opendkim\nopendkim-tools\npostfix-policyd-spf-python\n");
    host.unit("postfix", { active: true, enabled: true });
    host.unit("opendkim", { active: true, enabled: true });
    zone = new Zone();
    gaps = [];
    keysBefore = new Map();
    exec = async (_connection, commandLine, stdin) => {
        const r = host.run(commandLine, stdin);
        // While the old program's keys are in force: each stays in place, unchanged.
        if (keysBefore.size > 0) {
            const now = namedKeys();
            for (const [f, h] of keysBefore) if (now.has(f) && now.get(f) !== h) gaps.push(`${f}: ${now.get(f)}`);
            for (const [f, h] of now) if (h.startsWith("missing")) gaps.push(`${f}: missing`);
        }
        if (r.code !== 0) throw new RemoteCommandError(`remote command failed, exit ${r.code}: ${r.stderr || r.stdout}`);
        return { stdout: r.stdout, stderr: r.stderr };
    };
});
afterEach(() => host?.stop());

const config = (domains?: Record<string, unknown>[]): Record<string, unknown> => {
    const c: Record<string, unknown> = { ...exampleConfig(), "mailauth:testKey": { enabled: false } };
    if (domains) c["mailauth:domains"] = domains;
    return c;
};
// /var/lib/mailauth itself may stay (the packages step makes it, and its delete leaves it); nothing in it may.
const hostState = () =>
    host.sh("{ find /etc/opendkim /var/lib/mailauth -mindepth 1 -printf '%p %m %u\\n' 2>/dev/null || true; } | sort; md5sum /etc/opendkim.conf");

describe("a stack from the program with a step per key, upgraded to the keys step", () => {
    it("deletes the old per-key steps on the host without removing a key in use and without a signing gap; destroy then leaves the host as it was", async () => {
        const original = hostState();
        const statePath = path.join(dir, `state-${n++}.json`);
        const old = new LabRunner(statePath, zone, { privateKey: TEST_SSH_PRIVATE_KEY }, exec, oldProgram);
        await old.up(config());
        const oldSteps = Object.keys(old.resources)
            .filter((r) => r.startsWith("mailhost-key-"))
            .sort();
        expect(oldSteps).toEqual(["mailhost-key-example.com-20261127", "mailhost-key-example.org-20261127"]);
        keysBefore = namedKeys();
        expect(keysBefore.size).toBe(2);

        const next = new LabRunner(statePath, zone, { privateKey: TEST_SSH_PRIVATE_KEY }, exec);
        const report = await next.up(config());
        expect(gaps).toEqual([]);
        // The old steps' deletes ran on the host (their old script) and left the keys.
        expect(
            report.operations
                .filter((o) => o.op === "delete")
                .map((o) => o.name)
                .sort(),
        ).toEqual(oldSteps);
        expect(Object.keys(next.resources).filter((r) => r.startsWith("mailhost-key"))).toEqual(["mailhost-keys", "mailhost-keys-retire"]);
        expect(namedKeys()).toEqual(keysBefore);
        // The keys step took them as its own, and a second run changes nothing.
        expect(host.read("/var/lib/mailauth/keys/installed").trim().split("\n").sort()).toEqual([...keysBefore.keys()].sort());
        expect((await next.up(config())).commandsRun).toEqual([]);

        keysBefore = new Map();
        await next.destroy();
        expect(hostState()).toBe(original);
    }, 300_000);

    it("a selector dropped in the same upgrade: its old step's delete removes its key once OpenDKIM no longer names it; the live one stays", async () => {
        const [com, org] = exampleConfig()["mailauth:domains"] as Record<string, unknown>[];
        const statePath = path.join(dir, `state-${n++}.json`);
        const old = new LabRunner(statePath, zone, { privateKey: TEST_SSH_PRIVATE_KEY }, exec, oldProgram);
        await old.up(config([{ ...com, selector: "20270601", previousSelectors: ["20261127"] }, org]));
        const dropped = "/etc/opendkim/keys/example.com/20261127.private";
        expect(host.exists(dropped)).toBe(true);
        keysBefore = namedKeys();
        keysBefore.delete(dropped);

        const next = new LabRunner(statePath, zone, { privateKey: TEST_SSH_PRIVATE_KEY }, exec);
        await next.up(config([{ ...com, selector: "20270601" }, org]));
        expect(gaps).toEqual([]);
        expect(host.exists(dropped)).toBe(false);
        expect(namedKeys()).toEqual(keysBefore);
        expect(host.read("/etc/opendkim/KeyTable")).not.toContain("20261127._domainkey.example.com");
        expect(crypto.createHash("sha256").update(host.read("/etc/opendkim/keys/example.com/20270601.private")).digest("hex")).toBe(
            keysBefore.get("/etc/opendkim/keys/example.com/20270601.private")!.split(" ")[0],
        );
    }, 300_000);
});
