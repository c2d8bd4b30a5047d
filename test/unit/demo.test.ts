/**
 * npm run demo's own logic that needs no lab: what it refuses to run on, and how it shows the
 * server's files (never a secret's content).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterEach, describe, expect, it } from "vitest";
import { refuse } from "../demo/demo";
import { fileChanges, snapshotFiles } from "../demo/server";
import { ROOT } from "../harness";

const DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n';
const UBUNTU = 'PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nID_LIKE=debian\n';
const FEDORA = 'PRETTY_NAME="Fedora Linux 40 (Server Edition)"\nID=fedora\n';

describe("npm run demo refuses a machine it cannot run on, saying why", () => {
    const machine = { platform: "linux", osRelease: DEBIAN, uid: 0, aptGet: true };
    it("runs as root on Debian and on a Debian-family distribution", () => {
        expect(refuse(machine)).toBeUndefined();
        expect(refuse({ ...machine, osRelease: UBUNTU })).toBeUndefined();
    });
    it("names the distribution it will not run on", () => {
        expect(refuse({ ...machine, osRelease: FEDORA })).toMatch(/needs a Debian-family machine .* This machine is Fedora Linux 40 \(Server Edition\)\.$/);
        expect(refuse({ ...machine, osRelease: "" })).toMatch(/needs a Debian-family machine .*no \/etc\/os-release/);
        expect(refuse({ ...machine, aptGet: false })).toMatch(/needs a Debian-family machine/);
        expect(refuse({ ...machine, platform: "darwin" })).toMatch(/runs on Linux/);
    });
    it("asks for root", () => {
        expect(refuse({ ...machine, uid: 1000 })).toMatch(/^npm run demo needs root: .*sudo npm run demo/);
    });
});

describe("the demo's view of the server's files", () => {
    let root = "";
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    function server(files: Record<string, string>, modes: Record<string, number> = {}): string {
        root ||= fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-demo-test-"));
        for (const [p, text] of Object.entries(files)) {
            fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
            fs.writeFileSync(path.join(root, p), text, { mode: modes[p] ?? 0o644 });
            fs.chmodSync(path.join(root, p), modes[p] ?? 0o644);
        }
        return root;
    }
    const base = {
        "etc/passwd": `root:x:0:0::/root:/bin/sh\nopendkim:x:${process.getuid!()}:${process.getgid!()}::/run:/bin/false\n`,
        "etc/group": `root:x:0:\nopendkim:x:${process.getgid!()}:\n`,
        "etc/shadow": "root:$y$j9T$secret-hash:19000::::::\n",
        "etc/opendkim.conf": "Syslog yes\nMode v\n",
    };
    const KEY = "-----BEGIN RSA PRIVATE KEY-----\nMIIEsecretsecret\n-----END RSA PRIVATE KEY-----\n";

    it("shows a new table whole, a changed file as a diff, owners by name, and never a key or a password hash", () => {
        const before = snapshotFiles(server(base));
        server(
            {
                "etc/opendkim.conf": "Syslog yes\nMode sv\n",
                "etc/opendkim/SigningTable": "*@example.com s1._domainkey.example.com\n",
                "etc/opendkim/keys/example.com/s1.private": KEY,
                "etc/shadow": "root:$y$j9T$other-hash:19000::::::\n",
            },
            { "etc/opendkim/keys/example.com/s1.private": 0o600 },
        );
        const changes = fileChanges(before, snapshotFiles(root));
        const text = JSON.stringify(changes);
        expect(text).not.toMatch(/MIIE|secretsecret|-hash/);
        const by = Object.fromEntries(changes.map((c) => [c.path, c]));
        expect(by["/etc/opendkim/keys/example.com/s1.private"].lines).toEqual([`0600 opendkim:opendkim, secret: content not shown`]);
        expect(by["/etc/shadow"].lines).toEqual(["content changed (not shown)"]);
        expect(by["/etc/opendkim/SigningTable"].lines).toEqual(["0644 opendkim:opendkim, 1 line", "  *@example.com s1._domainkey.example.com"]);
        expect(by["/etc/opendkim.conf"].lines).toEqual(["@@ -1,2 +1,2 @@", " Syslog yes", "-Mode v", "+Mode sv"]);
        expect(by["/etc/opendkim"].what).toBe("added");
    });

    it("reports a file put back exactly as unchanged, and a removed one as removed", () => {
        const before = snapshotFiles(server({ ...base, "etc/opendkim/TrustedHosts": "127.0.0.1\n" }));
        fs.writeFileSync(path.join(root, "etc/opendkim.conf"), "changed\n");
        fs.writeFileSync(path.join(root, "etc/opendkim.conf"), base["etc/opendkim.conf"]);
        fs.rmSync(path.join(root, "etc/opendkim/TrustedHosts"));
        expect(fileChanges(before, snapshotFiles(root)).map((c) => [c.path, c.what])).toEqual([["/etc/opendkim/TrustedHosts", "removed"]]);
    });
});

describe("the demo's plain-Node loader (test/demo/register.js)", () => {
    it("runs TypeScript, and its vi.resetModules() makes the next run load the program afresh", () => {
        // Without the reset Node's module cache keeps index.ts and components/: a second run of the
        // program would register nothing. Dependencies (node_modules) stay loaded, as under vitest.
        const script = [
            'const first = require("./components/records/txt.ts");',
            'const { vi } = require("vitest");',
            "const cached = () => Object.keys(require.cache);",
            'const before = cached().filter((f) => f.includes("/components/")).length;',
            'const deps = cached().filter((f) => f.includes("/node_modules/")).length;',
            "vi.resetModules();",
            "console.log(JSON.stringify({",
            '    before, after: cached().filter((f) => f.includes("/components/")).length,',
            '    depsKept: cached().filter((f) => f.includes("/node_modules/")).length === deps,',
            '    fresh: require("./components/records/txt.ts") !== first, chunks: first.txtChunks("x".repeat(300)).length,',
            "}));",
        ].join("\n");
        const out = execFileSync(process.execPath, ["-r", "./test/demo/register.js", "-e", script], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
        expect(JSON.parse(out)).toEqual({ before: 1, after: 0, depsKept: true, fresh: true, chunks: 2 });
    });
});
