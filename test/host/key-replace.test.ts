/**
 * Issue 8, "Keys never change under a live selector": whatever runs the host's keys step again
 * (one step for every key: components/mailHost.ts), the key file keeps the key its DKIM record publishes. The lab's runner (test/lab/runner.ts, the
 * engine's replace order and ignoreChanges, sources cited there) drives the real step scripts on a
 * throwaway host (test/host/fakeHost.ts), the records going to a fake zone.
 *
 * The case: `pulumi up --replace` on a selector's tls.PrivateKey (the state then holds a new key;
 * the record and the key step keep the old one through ignoreChanges), then anything that creates
 * the key step again: `--replace` on it (the engine then sends the program's stdin, the new key:
 * pulumi/pulumi pkg/resource/deploy/step_generator.go ~1325-1333), a replace forced otherwise
 * (~2007-2022), a delete and create. Before the fix the step's delete removed the published key
 * and its create installed the new one, under a record that still publishes the old: every
 * message signed from then on failed verification.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { dkimPublicKey } from "../../components/records/dkim";
import { exampleConfig, TEST_SSH_PRIVATE_KEY } from "../harness";
import { LabRunner, RemoteCommandError, RemoteExec } from "../lab/runner";
import { Zone } from "./zone";
import { FakeHost } from "./fakeHost";
import { renderSteps } from "./steps";
import { splitStdinStep, stdinWithScript } from "../../components/hostScripts";

const KEY = "example.com-20261127-rsa";
const KEY_STEP = "mailhost-keys";
const KEY_FILE = "/etc/opendkim/keys/example.com/20261127.private";
const RECORD = "20261127._domainkey.example.com";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-key-replace-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;

let host: FakeHost;
let zone: Zone;
let runner: LabRunner;
beforeEach(async () => {
    host = await FakeHost.start();
    // Debian with Postfix configured and OpenDKIM installed and running (test/host/scripts.test.ts).
    host.write("/etc/postfix/main.cf", "compatibility_level = 3.6\nmyhostname = mail.example.com\nmydestination = localhost\ninet_interfaces = all\n");
    host.sh("useradd --system --user-group --no-create-home --shell /usr/sbin/nologin opendkim; install -d -o opendkim -g opendkim /run/opendkim");
    host.write("/etc/opendkim.conf", "Syslog\t\t\tyes\nUserID\t\t\topendkim\nUMask\t\t\t007\nSocket\t\t\tlocal:/run/opendkim/opendkim.sock\n");
    host.write("/var/lib/fakehost/packages", "opendkim\nopendkim-tools\npostfix-policyd-spf-python\n");
    host.unit("postfix", { active: true, enabled: true });
    host.unit("opendkim", { active: true, enabled: true });
    host.sh("touch /var/lib/fakehost/testkey-ok");
    // Each script as pulumi-command runs it over SSH: a non-zero exit fails the step.
    const exec: RemoteExec = async (_connection, commandLine, stdin) => {
        const r = host.run(commandLine, stdin);
        if (r.code !== 0) throw new RemoteCommandError(`remote command failed, exit ${r.code}: ${r.stderr || r.stdout}`);
        return { stdout: r.stdout, stderr: r.stderr };
    };
    zone = new Zone();
    runner = new LabRunner(path.join(dir, `state-${n++}.json`), zone, { privateKey: TEST_SSH_PRIVATE_KEY }, exec);
});
afterEach(() => host?.stop());

/** The p= of a PEM private key, as a DKIM record publishes it. */
const publicOf = (pem: string) => crypto.createPublicKey(pem).export({ type: "spki", format: "der" }).toString("base64");
const published = () => dkimPublicKey(zone.records.get(`${RECORD} TXT`)!);
/** The example stack without the key test (not what is tested here; one step less per run). */
const config = (): Record<string, unknown> => ({ ...exampleConfig(), "mailauth:testKey": { enabled: false } });
const heldKey = () => runner.resources[KEY].outputs.privateKeyPem as string;

describe("a host key step created again keeps the published key", () => {
    it("--replace on the key step after --replace on the key: the published key stays in place; with its file gone, the other key is refused", async () => {
        await runner.up(config());
        const installed = host.read(KEY_FILE);
        expect(publicOf(installed)).toBe(published());
        const record = zone.records.get(`${RECORD} TXT`);

        // The keys step's stdin now carries the state's new key: the step runs, and keeps the published one.
        const replaced = await runner.up(config(), { replace: [KEY] });
        expect(replaced.commandsRun).toContain(KEY_STEP);
        expect(publicOf(heldKey())).not.toBe(published());
        expect(host.read(KEY_FILE)).toBe(installed);

        const report = await runner.up(config(), { replace: [KEY_STEP] });
        // The step did run again: its delete, then its create (deleteBeforeReplace).
        expect(report.operations.filter((o) => o.name === KEY_STEP).map((o) => o.op)).toEqual(["replace"]);
        expect(zone.records.get(`${RECORD} TXT`)).toBe(record);
        expect(host.read(KEY_FILE)).toBe(installed);
        expect(host.stat(KEY_FILE)).toBe("600 opendkim:opendkim");
        expect(publicOf(host.read(KEY_FILE))).toBe(published());
        // The state's new key reached the host on stdin only, and was not put anywhere.
        expect(host.run(`grep -rlF -- "${heldKey().split("\n")[3]}" /etc /var/lib/mailauth /tmp`).stdout).toBe("");

        // The published key's file gone (a host rebuilt, a key removed by hand): the stack's other
        // key is refused, with what to do, and nothing is installed.
        host.sh(`rm ${KEY_FILE}`);
        const failure = (p: Promise<unknown>) =>
            p.then(
                () => "",
                (e) => String(e.message),
            );
        const err = await failure(runner.up(config(), { replace: [KEY_STEP] }));
        expect(err).toContain(`mailauth: ${KEY_FILE} is missing, and the key the stack now holds for it is not the one its DKIM record publishes`);
        expect(err).toContain(`Put the published key back at ${KEY_FILE} (from a backup)`);
        expect(err).toContain("rotate to a new selector");
        expect(host.exists(KEY_FILE)).toBe(false);
        // The next `pulumi up` retries the pending replacement, again from the program's stdin
        // (step_generator.go ~1952-2022), not the old one ignoreChanges kept: refused again.
        expect(await failure(runner.up(config()))).toContain(`mailauth: ${KEY_FILE} is missing`);
        expect(host.exists(KEY_FILE)).toBe(false);
    });

    it("the record created again from the stack's newer key: the keys step installs the key it now publishes", async () => {
        await runner.up(config());
        const installed = host.read(KEY_FILE);
        await runner.up(config(), { replace: [KEY] });
        expect(host.read(KEY_FILE)).toBe(installed);
        // The record's replacement publishes the state's key (the engine creates it from the
        // program's inputs); the keys step, whose stdin holds the record's p=, follows it.
        const report = await runner.up(config(), { replace: ["example.com-dkim-20261127"] });
        expect(report.commandsRun).toContain(KEY_STEP);
        expect(published()).toBe(publicOf(heldKey()));
        expect(publicOf(host.read(KEY_FILE))).toBe(published());
        expect(await runner.up(config()).then((r) => r.commandsRun)).toEqual([]);
    });

    it("a replace with the key unchanged keeps it; a selector taken out of the config still loses its key file; destroy removes the rest", async () => {
        await runner.up(config());
        const installed = host.read(KEY_FILE);
        await runner.up(config(), { replace: [KEY_STEP] });
        expect(host.read(KEY_FILE)).toBe(installed);

        const rotate = (previous: string[]) => {
            const c = config();
            const [com, org] = c["mailauth:domains"] as Record<string, unknown>[];
            c["mailauth:domains"] = [{ ...com, selector: "20270601", previousSelectors: previous }, org];
            return c;
        };
        await runner.up(rotate(["20261127"]));
        expect(host.read(KEY_FILE)).toBe(installed);
        await runner.up(rotate([]));
        expect(host.exists(KEY_FILE)).toBe(false);
        expect(host.exists("/etc/opendkim/keys/example.com/20270601.private")).toBe(true);

        await runner.destroy();
        expect(host.exists("/etc/opendkim/keys")).toBe(false);
    });

    it("the step run by hand: the published key replaces another file in place and keeps it for destroy; a key in place that the record does not publish is refused", async () => {
        const steps = await renderSteps(config());
        const step = steps["keys"];
        const { script, stdin } = splitStdinStep(step.create, step.stdin!)!;
        const pem = stdin
            .slice(stdin.indexOf(`#mailauth-key ${KEY_FILE} `))
            .split("\n")
            .slice(1)
            .join("\n")
            .replace(/#mailauth-key[\s\S]*$/, "");
        const other = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
        const put = (content: string) =>
            host.sh(
                `install -d -m 0750 -o root -g opendkim /etc/opendkim/keys/example.com; cat >${KEY_FILE}; chown opendkim:opendkim ${KEY_FILE}; chmod 0600 ${KEY_FILE}`,
                content,
            );
        const run = (keys: string) => host.run(step.create, stdinWithScript(script, keys));
        const line = (s: string) => s.split("\n").find((l) => l.includes(KEY_FILE)) ?? "";

        // Another key in place (not the published one, not the stack's): saved, then the published key replaces it.
        put(other);
        const r = run(stdin);
        expect(r.stderr).toBe("");
        expect(r.stdout).toContain(`saved: ${KEY_FILE} (the host's own key; back on destroy)\ninstalled: ${KEY_FILE}\n`);
        expect(host.read(KEY_FILE)).toBe(pem);
        expect(host.read(`/var/lib/mailauth/keys/saved${KEY_FILE}`)).toBe(other);
        expect(host.read("/var/lib/mailauth/keys/installed")).toContain(`${KEY_FILE}\n`);
        // Run again: unchanged.
        expect(line(run(stdin).stdout)).toBe(`unchanged: ${KEY_FILE}`);

        // The stack's key is not the published one (the record's p= is another key's): a file of
        // the host's own that is not the published key either is refused, and stays as it was.
        host.sh(`rm -rf /var/lib/mailauth/keys`);
        const otherPublic = publicOf(crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString());
        // The header: `#mailauth-key <file> <domain> <selector> <published p=> <own p=>`.
        const notPublished = stdin.replace(new RegExp(`^(#mailauth-key ${KEY_FILE.replace(/[./]/g, "\\$&")} \\S+ \\S+) \\S+`, "m"), `$1 ${otherPublic}`);
        put(other);
        const refused = run(notPublished);
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toContain(
            `mailauth: ${KEY_FILE} is a key this stack did not install, and it is not the key the selector's DKIM record publishes`,
        );
        expect(host.read(KEY_FILE)).toBe(other);

        // The key the stack installed, and the record publishing another: refused, with how to match them.
        put(pem);
        host.sh(`install -d -m 0700 /var/lib/mailauth/keys; echo ${KEY_FILE} >/var/lib/mailauth/keys/installed`);
        const changed = run(notPublished);
        expect(changed.stderr).toContain(`mailauth: ${KEY_FILE} holds the key the stack holds for it, but the selector's DKIM record publishes another key`);
        expect(changed.stderr).toContain("pulumi up --replace on the selector's DKIM record (the URN ending in ::example.com-dkim-20261127");
        // Cut short: nothing installed.
        host.sh(`rm -f ${KEY_FILE}`);
        const cut = run(stdin.replace(/#mailauth-end \d+\n$/, ""));
        expect(cut.stderr).toContain("the keys did not arrive whole on stdin");
        expect(host.exists(KEY_FILE)).toBe(false);
    });
});

/**
 * Issue 23.3: a key file of the host's own at the stack's path (same domain and selector, put
 * there by the user). Before: the stack's key overwrote it with no copy kept; destroy then left
 * the stack's key under the user's restored configuration (its KeyTable names the path), and with
 * `keytable` in lower case deleted the file. Now the stack saves it and destroy puts it back.
 */
describe("a key file of the host's own at the stack's path", () => {
    const USER_KT = `20261127._domainkey.example.com example.com:20261127:${KEY_FILE}\n`;
    it.each([
        ["KeyTable", "KeyTable /etc/opendkim/KeyTable\nSigningTable refile:/etc/opendkim/SigningTable\n"],
        ["keytable in lower case", "keytable /etc/opendkim/KeyTable\nsigningtable refile:/etc/opendkim/SigningTable\n"],
        ["no KeyTable naming it", ""],
    ])(
        "%s: saved before the stack's key replaces it, back on destroy",
        async (_, signing) => {
            const userKey = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
            host.write(
                "/etc/opendkim.conf",
                `Syslog\t\t\tyes\nUserID\t\t\topendkim\nUMask\t\t\t007\nSocket\t\t\tlocal:/run/opendkim/opendkim.sock\n${signing}`,
            );
            host.write("/etc/opendkim/KeyTable", USER_KT);
            host.write("/etc/opendkim/SigningTable", "*@example.com 20261127._domainkey.example.com\n");
            host.sh(
                `install -d -m 0750 -o root -g opendkim /etc/opendkim/keys /etc/opendkim/keys/example.com; cat >${KEY_FILE}; chown opendkim:opendkim ${KEY_FILE}; chmod 0600 ${KEY_FILE}; touch -d @1700000000 ${KEY_FILE}`,
                userKey,
            );
            const before = host.sh(`stat -c '%a %U:%G %Y' ${KEY_FILE}; md5sum ${KEY_FILE}; md5sum /etc/opendkim.conf /etc/opendkim/KeyTable`);

            await runner.up(config());
            expect(publicOf(host.read(KEY_FILE))).toBe(published());
            expect(host.read(`/var/lib/mailauth/keys/saved${KEY_FILE}`)).toBe(userKey);

            await runner.destroy();
            expect(host.sh(`stat -c '%a %U:%G %Y' ${KEY_FILE}; md5sum ${KEY_FILE}; md5sum /etc/opendkim.conf /etc/opendkim/KeyTable`)).toBe(before);
            expect(host.read(KEY_FILE)).toBe(userKey);
            // Nothing of the stack's is left: its other key gone, no copy of a key in its state.
            expect(host.exists("/etc/opendkim/keys/example.org")).toBe(false);
            expect(host.exists("/var/lib/mailauth/keys")).toBe(false);
        },
        180_000,
    );

    // The stack's opendkim.conf as it writes it now, and as it wrote it before its header named
    // the stack (hosts set up then: components/hostTexts.ts OPENDKIM_CONF_HEADER_OLD), is the
    // stack's; a first line of another's is not.
    const OLD_HEADER =
        "# OpenDKIM configuration written by the mailauth Pulumi stack; edits here are overwritten.\n# `pulumi destroy` puts back the file this host had before.\n";
    const asNow = (conf: string) => conf;
    const asBefore = (conf: string) => OLD_HEADER + conf.replace(/^(#[^\n]*\n)+/, "");
    const another = (conf: string) => "# OpenDKIM configuration written by hand\n" + conf.replace(/^(#[^\n]*\n)+/, "");
    it.each([
        ["its header as written now", asNow, true],
        ["its header as written before it named the stack", asBefore, true],
        ["another first line", another, false],
    ])(
        "the keys step's delete (the first half of a --replace), opendkim.conf's first line %s: the stack's key stays under the stack's configuration, the saved one comes back under another's",
        async (_, header, stacks) => {
            const userKey = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
            host.write(
                "/etc/opendkim.conf",
                `Syslog\t\t\tyes\nUserID\t\t\topendkim\nUMask\t\t\t007\nSocket\t\t\tlocal:/run/opendkim/opendkim.sock\nKeyTable /etc/opendkim/KeyTable\nSigningTable refile:/etc/opendkim/SigningTable\n`,
            );
            host.write("/etc/opendkim/KeyTable", USER_KT);
            host.write("/etc/opendkim/SigningTable", "*@example.com 20261127._domainkey.example.com\n");
            host.sh(
                `install -d -m 0750 -o root -g opendkim /etc/opendkim/keys /etc/opendkim/keys/example.com; cat >${KEY_FILE}; chown opendkim:opendkim ${KEY_FILE}; chmod 0600 ${KEY_FILE}`,
                userKey,
            );
            await runner.up(config());
            // The stack's opendkim.conf is in force, its header first (components/hostFiles.ts fileHeader).
            expect(host.read("/etc/opendkim.conf").split("\n")[0]).toMatch(/^# OpenDKIM configuration, written by the mailauth Pulumi stack /);
            const stacksKey = host.read(KEY_FILE);
            expect(publicOf(stacksKey)).toBe(published());
            host.write("/etc/opendkim.conf", header(host.read("/etc/opendkim.conf")));
            const del = host.run(runner.resources[KEY_STEP].inputs.delete);
            expect(del.code, del.stderr).toBe(0);
            // Before the header was matched, the delete took the stack's configuration for the host's and put the user's key back under it.
            expect(host.read(KEY_FILE)).toBe(stacks ? stacksKey : userKey);
        },
        180_000,
    );
});
