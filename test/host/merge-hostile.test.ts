/**
 * Hostile host state met by the merge of the host's own OpenDKIM configuration
 * (templates/include/opendkim-merge.sh), run for real in bash on throwaway files: carried trust,
 * an inline key, CRLF files, a data set pointed at /etc/shadow (issue 23, items 4 and 5; issue 22).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTemplate } from "../../components/templates";

function bash(script: string): { out: string; code: number } {
    try {
        const out = execFileSync("bash", ["-c", script], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        return { out, code: 0 };
    } catch (e: any) {
        return { out: `${e.stdout ?? ""}${e.stderr ?? ""}`, code: e.status };
    }
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const OURS_KT = "s1._domainkey.example.com example.com:s1:/etc/opendkim/keys/example.com/s1.private\n";
const OURS_TH = "127.0.0.1\n::1\n*.example.com\n";
/** The line before what the merge carries over, in each table. */
const CARRIED = "# Carried over from this host's own OpenDKIM configuration (templates/include/opendkim-merge.sh):\n";

function merge(original: Record<string, string>): { out: string; code: number; tables: Record<string, string> } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-hostile-"));
    dirs.push(dir);
    for (const d of ["saved", "stage", "etc"]) fs.mkdirSync(path.join(dir, d));
    for (const [name, text] of Object.entries(original)) {
        if (name.startsWith("link:")) fs.symlinkSync(text.replace(/\$DIR/g, dir), path.join(dir, name.slice(5)));
        else fs.writeFileSync(path.join(dir, name), text.replace(/\$DIR/g, dir));
    }
    fs.writeFileSync(path.join(dir, "stage/KeyTable"), OURS_KT);
    fs.writeFileSync(path.join(dir, "stage/SigningTable"), "*@example.com s1._domainkey.example.com\n");
    fs.writeFileSync(path.join(dir, "stage/TrustedHosts"), OURS_TH);
    const r = bash(
        [
            loadTemplate("lib.sh"),
            loadTemplate("include/opendkim-merge.sh"),
            `saved=${dir}/saved STAGE=${dir}/stage CONF=${dir}/etc/opendkim.conf ETC_DIR=${dir}/etc`,
            "merge_host_config",
        ].join("\n"),
    );
    const tables = Object.fromEntries(["KeyTable", "SigningTable", "TrustedHosts"].map((t) => [t, fs.readFileSync(path.join(dir, "stage", t), "utf8")]));
    return { ...r, tables };
}

describe("the host's own OpenDKIM configuration, hostile or odd", () => {
    it("ExternalIgnoreList entries are not trusted for signing; InternalHosts entries are", () => {
        const r = merge({
            "saved/opendkim.conf": "Mode sv\nInternalHosts $DIR/internal\nExternalIgnoreList $DIR/ignore\n",
            internal: "192.168.1.0/24\n",
            ignore: "203.0.113.0/24\n*.relay.example.net\n",
        });
        expect(r.code, r.out).toBe(0);
        expect(r.tables.TrustedHosts).toBe(`${OURS_TH}${CARRIED}192.168.1.0/24\n`);
        expect(r.out).toContain("ExternalIgnoreList is not carried over");
    });

    it("an InternalHosts data set that is not one (a root-readable /etc/shadow) stops the run without showing its lines", () => {
        const r = merge({
            "saved/opendkim.conf": "InternalHosts $DIR/shadow\n",
            shadow: "root:$y$j9T$secrethash:19000:0:99999:7:::\n",
        });
        expect(r.code).toBe(1);
        expect(r.out).toMatch(/entry 1 of the host's InternalHosts .* is not an address, block or host name \(not shown\)/);
        expect(r.out).not.toContain("secrethash");
        expect(r.tables.TrustedHosts).toBe(OURS_TH);
    });

    it.each(["0.0.0.0/0", "::/0", "0.0.0.0/1", "2000::/3"])("a carried InternalHosts entry %s that covers the internet stops the run", (entry) => {
        const r = merge({ "saved/opendkim.conf": `InternalHosts ${entry}, 10.0.0.0/8\n` });
        expect(r.code).toBe(1);
        expect(r.out).toContain(`trusts ${entry}, which covers public address space`);
    });

    it("a private key inline in the host's KeyTable stops the run, the key not shown, nothing staged", () => {
        const r = merge({
            "saved/opendkim.conf": "KeyTable $DIR/kt\nSigningTable refile:$DIR/st\n",
            kt: "sel._domainkey.other.org other.org:sel:MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCinlinekey\n",
            st: "*@other.org sel._domainkey.other.org\n",
        });
        expect(r.code).toBe(1);
        expect(r.out).toContain("holds its private key inline");
        expect(r.out).not.toContain("MIIEvQIBADAN");
        expect(r.tables.KeyTable).toBe(OURS_KT);
    });

    it("a CRLF opendkim.conf and tables read as OpenDKIM reads them (the line ends at the carriage return)", () => {
        const r = merge({
            "saved/opendkim.conf": "keytable $DIR/kt\r\nsigningtable refile:$DIR/st\r\nInternalHosts 192.168.7.0/24\r\n",
            kt: "k._domainkey.other.org other.org:k:/etc/dkimkeys/k.private\r\n",
            st: "*@other.org k._domainkey.other.org\r\n",
        });
        expect(r.code, r.out).toBe(0);
        expect(r.tables.KeyTable).toBe(`${OURS_KT}${CARRIED}k._domainkey.other.org other.org:k:/etc/dkimkeys/k.private\n`);
        expect(r.tables.TrustedHosts).toBe(`${OURS_TH}${CARRIED}192.168.7.0/24\n`);
    });
});

describe("the host's opendkim.conf naming this stack's own files under another spelling (issue 23.8)", () => {
    // The stack's live tables, from an earlier run that still signed dropped.org; the host's own
    // (saved before the first run) signed other.org. The merge must read the saved ones.
    const live = {
        "etc/KeyTable": `${OURS_KT}d._domainkey.dropped.org dropped.org:d:/etc/opendkim/keys/dropped.org/d.private\n`,
        "etc/SigningTable": "*@example.com s1._domainkey.example.com\n*@dropped.org d._domainkey.dropped.org\n",
        "saved/KeyTable": "o._domainkey.other.org other.org:o:/etc/dkimkeys/o.private\n",
        "saved/SigningTable": "*@other.org o._domainkey.other.org\n",
    };
    it.each([
        ["./", "$DIR/etc/./KeyTable", "refile:$DIR/etc/./SigningTable"],
        ["//", "$DIR//etc//KeyTable", "refile:$DIR/etc//SigningTable"],
        ["sub/..", "$DIR/etc/keys/../KeyTable", "refile:$DIR/stage/../etc/SigningTable"],
        ["a link to the directory", "$DIR/dkim/KeyTable", "refile:$DIR/dkim/SigningTable"],
        ["a link to the file", "$DIR/kt-link", "refile:$DIR/st-link"],
    ])("%s: the merge reads the host's saved table, not the stack's live one", (_, kt, st) => {
        const r = merge({
            ...live,
            "saved/opendkim.conf": `KeyTable ${kt}\nSigningTable ${st}\n`,
            "link:dkim": "$DIR/etc",
            "link:kt-link": "$DIR/etc/KeyTable",
            "link:st-link": "etc/SigningTable",
        });
        expect(r.code, r.out).toBe(0);
        expect(r.tables.SigningTable).toBe(`*@example.com s1._domainkey.example.com\n${CARRIED}*@other.org o._domainkey.other.org\n`);
        expect(r.tables.KeyTable).toBe(`${OURS_KT}${CARRIED}o._domainkey.other.org other.org:o:/etc/dkimkeys/o.private\n`);
    });
});

describe("a key's delete on a host whose own opendkim.conf still names the key", () => {
    /** Runs templates/dkim-key-delete.sh with the host's opendkim.conf; whether the key file is left. */
    function keyLeft(conf: (dir: string) => string): { left: boolean; out: string } {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-keydel-"));
        dirs.push(dir);
        const key = path.join(dir, "keys/s1.private");
        fs.mkdirSync(path.join(dir, "keys"));
        fs.writeFileSync(key, "key\n");
        fs.writeFileSync(path.join(dir, "UserKeyTable"), `s1._domainkey.example.com example.com:s1:${key}\r\n`);
        fs.writeFileSync(path.join(dir, "opendkim.conf"), conf(dir));
        // The keys step lists the key files it installed (templates/dkim-key.sh); here in a state directory of the test's own.
        fs.mkdirSync(path.join(dir, "state/keys"), { recursive: true, mode: 0o700 });
        fs.writeFileSync(path.join(dir, "state/keys/installed"), `${key}\n`);
        const r = bash(
            [loadTemplate("lib.sh"), `STATE_DIR=${dir}/state KEYTABLE=${dir}/KeyTable CONF=${dir}/opendkim.conf`, loadTemplate("dkim-key-delete.sh")].join(
                "\n",
            ),
        );
        expect(r.code, r.out).toBe(0);
        return { left: fs.existsSync(key), out: r.out };
    }

    it.each([
        ["KeyTable", (d: string) => `KeyTable ${d}/UserKeyTable\n`],
        ["keytable in lower case", (d: string) => `keytable ${d}/UserKeyTable\n`],
        ["KEYTABLE file: with CRLF", (d: string) => `KEYTABLE file:${d}/UserKeyTable\r\n`],
        ["keyfile in lower case, with a comment", (d: string) => `keyfile ${d}/keys/s1.private # the host's single key\n`],
    ])("%s: the key stays", (_, conf) => {
        expect(keyLeft(conf)).toMatchObject({ left: true });
    });

    it("a configuration that does not name it: the key goes", () => {
        expect(keyLeft(() => "Mode v\n")).toMatchObject({ left: false });
    });
});
