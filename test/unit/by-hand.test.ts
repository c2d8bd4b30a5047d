/**
 * A server set up by hand: the host-side logic that recognises what the user already has,
 * run for real in bash on throwaway files (the lab, test/lab/by-hand.test.ts, runs it on a
 * real host with real mail). Fast: no Postfix, no OpenDKIM needed.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTemplate } from "../../components/templates";

function bash(script: string): { out: string; code: number } {
    try {
        // As a command substitution would take it: the final newline dropped.
        const out = execFileSync("bash", ["-c", script], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        return { out: out.replace(/\n$/, ""), code: 0 };
    } catch (e: any) {
        return { out: `${e.stdout ?? ""}${e.stderr ?? ""}`, code: e.status };
    }
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The line before what the merge carries over, in each table (templates/include/opendkim-merge.sh). */
const CARRIED = "# Carried over from this host's own OpenDKIM configuration (templates/include/opendkim-merge.sh):\n";

describe("milter entries that reach OpenDKIM, in any spelling", () => {
    const rewrite = (socket: string, list: string, mode = "") =>
        bash(
            [
                loadTemplate("lib.sh"),
                loadTemplate("include/postfix-milters.sh"),
                "queue_dir=/var/spool/postfix",
                "MILTER=unix:opendkim/opendkim.sock",
                'opendkim_forms=$(for m in unix:opendkim/opendkim.sock inet:127.0.0.1:8891; do milter_forms "$m"; done; ' + `opendkim_form ${q(socket)})`,
                `with_milter ${q(list)} smtpd_milters ${mode}`,
            ].join("\n"),
        );

    it.each([
        // [the host's OpenDKIM Socket, smtpd_milters as the user wrote it, what the stack makes of it]
        [
            "local:/var/spool/postfix/opendkim/opendkim.sock",
            "local:opendkim/opendkim.sock, inet:127.0.0.1:11332",
            "unix:opendkim/opendkim.sock, inet:127.0.0.1:11332",
        ],
        ["inet:8891@localhost", "inet:127.0.0.1:11332 inet:localhost:8891", "inet:127.0.0.1:11332, unix:opendkim/opendkim.sock"],
        ["inet:8891@localhost", "inet:[::1]:8891", "unix:opendkim/opendkim.sock"],
        ["inet:12301@[127.0.0.1]", "inet:localhost:12301", "unix:opendkim/opendkim.sock"],
        ["inet:12301", "inet:127.0.0.1:12301", "unix:opendkim/opendkim.sock"],
        ["local:/var/spool/postfix/run/opendkim/opendkim.sock", "unix:/run/opendkim/opendkim.sock", "unix:opendkim/opendkim.sock"],
        ["/run/opendkim/opendkim.sock", "unix:/run/opendkim/opendkim.sock", "unix:opendkim/opendkim.sock"],
        // Both spellings of one OpenDKIM: one entry is left, in the first one's place.
        ["inet:8891@localhost", "inet:localhost:8891, inet:127.0.0.1:11332, inet:127.0.0.1:8891", "unix:opendkim/opendkim.sock, inet:127.0.0.1:11332"],
        // Another milter on another port or socket stays, and ours is added at the end.
        ["local:/run/opendkim/opendkim.sock", "inet:127.0.0.1:11332", "inet:127.0.0.1:11332, unix:opendkim/opendkim.sock"],
        ["local:/run/opendkim/opendkim.sock", "", "unix:opendkim/opendkim.sock"],
    ])("Socket %s, smtpd_milters = %s -> %s", (socket, list, want) => {
        expect(rewrite(socket, list)).toEqual({ out: want, code: 0 });
    });

    it("a service's own list (master.cf -o) changes only where it reaches OpenDKIM, without blanks", () => {
        expect(rewrite("inet:12301@localhost", "inet:localhost:12301, inet:127.0.0.1:11332", "override")).toEqual({
            out: "unix:opendkim/opendkim.sock,inet:127.0.0.1:11332",
            code: 0,
        });
        expect(rewrite("inet:12301@localhost", "inet:127.0.0.1:11332", "override")).toEqual({ out: "inet:127.0.0.1:11332", code: 0 });
    });

    it("swaps OpenDKIM's endpoint inside a { ... } group, keeping the group's settings", () => {
        expect(rewrite("inet:8891@localhost", "{ inet:localhost:8891, default_action=tempfail }, inet:127.0.0.1:11332")).toEqual({
            out: "{ unix:opendkim/opendkim.sock, default_action=tempfail }, inet:127.0.0.1:11332",
            code: 0,
        });
        expect(rewrite("inet:8891@localhost", "{ inet:127.0.0.1:11332, default_action=tempfail }")).toEqual({
            out: "{ inet:127.0.0.1:11332, default_action=tempfail }, unix:opendkim/opendkim.sock",
            code: 0,
        });
        const twice = rewrite("inet:8891@localhost", "{ inet:localhost:8891, default_action=tempfail }, inet:127.0.0.1:8891");
        expect(twice.code).toBe(1);
        expect(twice.out).toMatch(
            /names OpenDKIM 2 times \(inet:localhost:8891 inet:127\.0\.0\.1:8891\), inside a \{ \.\.\. \} group; .*Postfix was not changed\./,
        );
    });
});

describe("the host's own OpenDKIM keys and trusted hosts", () => {
    const dirs: string[] = [];
    afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

    /** Runs merge_host_config with the host's original files and this stack's staged tables. */
    function merge(original: Record<string, string>): { out: string; code: number; tables: Record<string, string> } {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-merge-"));
        dirs.push(dir);
        for (const d of ["saved", "stage", "etc"]) fs.mkdirSync(path.join(dir, d));
        for (const [name, text] of Object.entries(original)) fs.writeFileSync(path.join(dir, name), text);
        fs.writeFileSync(path.join(dir, "stage/KeyTable"), "s1._domainkey.example.com example.com:s1:/etc/opendkim/keys/example.com/s1.private\n");
        fs.writeFileSync(path.join(dir, "stage/SigningTable"), "*@example.com s1._domainkey.example.com\n");
        fs.writeFileSync(path.join(dir, "stage/TrustedHosts"), "127.0.0.1\n::1\n*.example.com\n");
        const r = bash(
            [
                loadTemplate("lib.sh"),
                loadTemplate("include/opendkim-merge.sh"),
                `saved=${dir}/saved STAGE=${dir}/stage CONF=/etc/opendkim.conf ETC_DIR=/etc/opendkim`,
                "merge_host_config",
            ].join("\n"),
        );
        const tables = Object.fromEntries(["KeyTable", "SigningTable", "TrustedHosts"].map((t) => [t, fs.readFileSync(path.join(dir, "stage", t), "utf8")]));
        return { ...r, tables };
    }

    it("the guide's tables: other domains' rules and keys kept after ours, the managed domain's rule given way, trusted hosts added", () => {
        const r = merge({
            "saved/opendkim.conf":
                "Mode sv\nKeyTable /etc/opendkim/KeyTable\nSigningTable refile:/etc/opendkim/SigningTable\n" +
                "ExternalIgnoreList refile:/etc/opendkim/TrustedHosts\nInternalHosts refile:/etc/opendkim/TrustedHosts # the guide\nAutoRestart yes\n",
            "saved/KeyTable":
                "mail._domainkey.example.net example.net:mail:/etc/opendkim/keys/example.net/mail.private\n" +
                "mail._domainkey.example.com example.com:mail:/etc/opendkim/keys/example.com/mail.private\n# old\nunused._domainkey.example.org example.org:unused:/x\n",
            "saved/SigningTable": "*@example.net mail._domainkey.example.net\n*@example.com mail._domainkey.example.com\n",
            "saved/TrustedHosts": "127.0.0.1\n::1\n*.example.com\n192.168.1.0/24\n",
        });
        expect(r.code).toBe(0);
        expect(r.tables).toEqual({
            KeyTable:
                `s1._domainkey.example.com example.com:s1:/etc/opendkim/keys/example.com/s1.private\n${CARRIED}` +
                "mail._domainkey.example.net example.net:mail:/etc/opendkim/keys/example.net/mail.private\n",
            SigningTable: `*@example.com s1._domainkey.example.com\n${CARRIED}*@example.net mail._domainkey.example.net\n`,
            TrustedHosts: `127.0.0.1\n::1\n*.example.com\n${CARRIED}192.168.1.0/24\n`,
        });
        expect(r.out).toContain("kept: the host's signing rules for example.net");
        expect(r.out).toContain("replaced: the host's signing rules *@example.com (domains this stack signs)");
        expect(r.out).toContain("not carried over from the host's opendkim.conf");
        expect(r.out).toContain("AutoRestart");
    });

    it("a flat SigningTable becomes the patterns that match the same senders", () => {
        const r = merge({
            "saved/opendkim.conf": "KeyTable file:/etc/opendkim/KeyTable\nSigningTable /etc/opendkim/SigningTable\n",
            "saved/KeyTable": "k example.net:k:/etc/dkimkeys/k.private\n",
            "saved/SigningTable": "example.net k\n.example.net k\nbob@example.org k\nsales@.example.org k\n",
        });
        expect(r.tables.SigningTable).toBe(
            `*@example.com s1._domainkey.example.com\n${CARRIED}*@example.net k\n*@*.example.net k\nbob@example.org k\nsales@*.example.org k\n`,
        );
    });

    it("the single key (KeyFile, Domain, Selector, SubDomains) becomes table entries", () => {
        const r = merge({
            "saved/opendkim.conf":
                "Domain example.net, example.com\nKeyFile /etc/dkimkeys/mail.private\nSelector mail\nSubDomains yes\nInternalHosts 10.0.0.0/8, mail.lan\n",
        });
        expect(r.tables).toEqual({
            KeyTable:
                `s1._domainkey.example.com example.com:s1:/etc/opendkim/keys/example.com/s1.private\n${CARRIED}` +
                "mail._domainkey.example.net example.net:mail:/etc/dkimkeys/mail.private\n" +
                "mail._domainkey.example.com example.com:mail:/etc/dkimkeys/mail.private\n",
            SigningTable:
                `*@example.com s1._domainkey.example.com\n${CARRIED}*@example.net mail._domainkey.example.net\n` +
                "*@*.example.net mail._domainkey.example.net\n*@*.example.com mail._domainkey.example.com\n",
            TrustedHosts: `127.0.0.1\n::1\n*.example.com\n${CARRIED}10.0.0.0/8\nmail.lan\n`,
        });
    });

    it("a verify-only or package-default configuration adds nothing", () => {
        for (const conf of [
            "Mode v\nKeyFile /etc/opendkim/keys/default.private\n",
            "Socket local:/run/opendkim/opendkim.sock\nTrustAnchorFile /usr/share/dns/root.key\n",
        ]) {
            const r = merge({ "saved/opendkim.conf": conf });
            expect(r).toMatchObject({ code: 0, out: "" });
            expect(r.tables.SigningTable).toBe("*@example.com s1._domainkey.example.com\n");
        }
    });

    it("a table in a database stops the run, naming the setting and what to do", () => {
        const r = merge({
            "saved/opendkim.conf": "KeyTable dsn:mysql://opendkim@localhost/opendkim/table=keys\nSigningTable refile:/etc/opendkim/SigningTable\n",
        });
        expect(r.code).toBe(1);
        expect(r.out).toMatch(
            /reads KeyTable from dsn:mysql:.* cannot carry that data set's entries over\. Move them into a file \(KeyTable \/path\).*OpenDKIM and Postfix were not changed\./,
        );
    });
});

describe("OpenDKIM's own command line", () => {
    const check = (argv: string) =>
        bash(
            [
                loadTemplate("lib.sh"),
                loadTemplate("include/opendkim-merge.sh"),
                "CONF=/etc/opendkim.conf",
                // systemd's own format for `systemctl show -p ExecStart`.
                `systemctl() { printf '%s\\n' ${q(`ExecStart={ path=/usr/sbin/opendkim ; argv[]=${argv} ; ignore_errors=no ; start_time=[n/a] }`)}; }`,
                "refuse_command_line_config && echo fine",
            ].join("\n"),
        );

    it.each([
        ["/usr/sbin/opendkim", "Debian's unit"],
        ["/usr/sbin/opendkim $OPTIONS", "EPEL's unit, as systemctl shows it"],
        ["/usr/sbin/opendkim -x /etc/opendkim.conf -P /run/opendkim/opendkim.pid", "EPEL's options, spelled out"],
    ])("%s (%s) reads the stack's opendkim.conf", (argv) => {
        expect(check(argv)).toEqual({ out: "fine", code: 0 });
    });

    it.each(["/usr/sbin/opendkim -P /run/opendkim/opendkim.pid -p local:/run/opendkim/opendkim.sock", "/usr/sbin/opendkim -x /etc/opendkim/other.conf"])(
        "%s stops the run before any change, saying why",
        (argv) => {
            const r = check(argv);
            expect(r.code).toBe(1);
            expect(r.out).toContain(`OpenDKIM's service starts it as '${argv}': its -p (socket) or -x (configuration file) overrides /etc/opendkim.conf`);
            expect(r.out).toContain("OpenDKIM and Postfix were not changed.");
        },
    );
});
