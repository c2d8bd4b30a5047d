/**
 * The texts the program and the host's scripts share are written once (components/hostTexts.ts):
 * no template and no other component spells one out again, and the scripts carry them as the
 * program writes them.
 */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import {
    KEY_HEADER,
    KEYS_END,
    nameserversRefusal,
    OPENDKIM_CONF_HEADER,
    OPENDKIM_CONF_HEADER_OLD,
    OPENDKIM_CONF_WHAT,
    UNBOUND_NEEDED,
} from "../../components/hostTexts";
import { fileHeader, OpenDkimResolver, renderOpenDkimConf } from "../../components/hostFiles";
import { OS_FAMILIES } from "../../components/osFamilies";
import { OpenDkimSettings } from "../../components/settings";
import { keysStdin } from "../../components/mailHost";
import { buildScript } from "../../components/hostScripts";
import { OPENDKIM } from "../../components/settingsTable";
import { loadTemplate } from "../../components/templates";

const ROOT = path.join(__dirname, "..", "..");

/** Every production source file (templates/, components/, scripts/, index.ts), relative to the root. */
function sources(): string[] {
    const walk = (dir: string): string[] =>
        fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(`${dir}/${e.name}`) : [`${dir}/${e.name}`]));
    return [...walk("templates"), ...walk("components"), ...walk("scripts"), "index.ts"];
}

/** The files whose text holds `phrase`. */
function holding(phrase: string): string[] {
    return sources().filter((f) => fs.readFileSync(path.join(ROOT, f), "utf8").includes(phrase));
}

describe("the libunbound refusal (opendkim.nameservers without libunbound)", () => {
    it("is written in one file: no template or other component spells it out", () => {
        expect(holding("needs an OpenDKIM built with libunbound")).toEqual([]);
        expect(holding("lists no USE_UNBOUND")).toEqual(["components/hostTexts.ts"]);
        expect(holding("ignores Nameservers")).toEqual(["components/hostTexts.ts"]);
        expect(holding("this OpenDKIM is built without libunbound")).toEqual(["components/hostTexts.ts"]);
    });

    it("the packages and opendkim steps refuse in its words; the settings doc says what it needs in them", () => {
        const packages = buildScript({ template: "packages", familyVars: ["PACKAGES"], vars: { NAMESERVERS: "192.0.2.53" } });
        expect(packages).toContain(`die "opendkim.nameservers ($NAMESERVERS) ${nameserversRefusal("EPEL's build")}."\n`);
        expect(loadTemplate("opendkim.sh")).toContain(`die "opendkim.nameservers ${nameserversRefusal("it")}; the old configuration stays in force."\n`);
        const row = OPENDKIM.rows.find((r) => r.key === "nameservers")!;
        expect(row.doc).toContain(`Needs ${UNBOUND_NEEDED} (Debian's)`);
    });
});

describe("the keys step's stdin markers (a key's header line, the last line)", () => {
    it("are written in one file: neither the program nor dkim-key.sh spells them out", () => {
        expect(holding("#mailauth-key")).toEqual(["components/hostTexts.ts"]);
        expect(holding("#mailauth-end")).toEqual(["components/hostTexts.ts"]);
    });

    it("the program writes them and the keys step reads them in the same words, as before they moved", () => {
        expect([KEY_HEADER, KEYS_END]).toEqual(["#mailauth-key", "#mailauth-end"]);
        const stdin = keysStdin([{ domain: "example.org", selector: "s1", privateKeyPem: "PEM", recordValue: "v=DKIM1; p=AB", published: "" }]);
        expect(stdin).toBe("#mailauth-key /etc/opendkim/keys/example.org/s1.private example.org s1 - AB\nPEM\n#mailauth-end 1\n");
        const script = loadTemplate("dkim-key.sh");
        expect(script).toContain(`    index($0, "#mailauth-key ") == 1 { if (f != "") close(f); n++;`);
        expect(script).toContain(`    index($0, "#mailauth-end ") == 1 { if ($2 != n) exit 3; ended = 1; exit }`);
        expect(script).not.toContain("{{");
    });
});

describe("opendkim.conf's first line (the stack's configuration in force)", () => {
    it("is written in one file: the headers the program writes and the one the scripts recognise", () => {
        expect(holding("written by the mailauth Pulumi stack")).toEqual(["components/hostTexts.ts"]);
    });

    it("the scripts recognise it as the program writes it, and as the stack wrote it before its header named the stack", () => {
        const header = fileHeader(OPENDKIM_CONF_WHAT, { project: "p", stack: "s" }, "templates/opendkim.conf");
        expect(header.startsWith(OPENDKIM_CONF_HEADER)).toBe(true);
        expect(header).toMatch(/^# OpenDKIM configuration, written by the mailauth Pulumi stack p\/s \(templates\/opendkim.conf, /);
        // The first line the stack wrote before (templates/opendkim.conf until issue 17.3).
        expect("# OpenDKIM configuration written by the mailauth Pulumi stack; edits here are overwritten.".startsWith(OPENDKIM_CONF_HEADER_OLD)).toBe(true);
        // templates/lib.sh dkim_load_named, to the byte as before the texts moved here.
        expect(loadTemplate("lib.sh")).toContain(
            `        "# OpenDKIM configuration, written by the mailauth Pulumi stack "* | "# OpenDKIM configuration written by the mailauth Pulumi stack"*)\n`,
        );
    });
});

/**
 * The merge of the host's own opendkim.conf (templates/include/opendkim-merge.sh) names the settings
 * it does not report as dropped: the ones the stack's opendkim.conf writes (templates/opendkim.conf,
 * as components/hostFiles.ts renders it) and the ones it deals with itself. The list is spelled out
 * there (the script's bytes are the step's state); this test keeps it in step with the template.
 */
describe("the settings the opendkim.conf merge does not report as dropped", () => {
    /** Handled by the merge itself (the single key: carried into the tables) or dropped on purpose. */
    const HANDLED = [
        // The stack resolves its own way (components/hostFiles.ts renderOpenDkimConf: no TrustAnchorFile).
        "TrustAnchorFile",
        // The single key (KeyFile, Domain, Selector, SubDomains): carried over as KeyTable and SigningTable entries.
        "KeyFile",
        "Domain",
        "Selector",
        "SubDomains",
    ];

    /** Every setting any opendkim.conf the stack renders writes: each family, each resolver build, with and without nameservers. */
    function stackSettings(): string[] {
        const keys = new Set<string>();
        for (const family of OS_FAMILIES)
            for (const build of ["unbound", "resolv"] as OpenDkimResolver[])
                for (const nameservers of [[], ["192.0.2.53"]]) {
                    const settings = {
                        reportAddress: "postmaster@example.com",
                        trustedHosts: [],
                        nameservers,
                        milterTransport: "auto",
                    } as unknown as OpenDkimSettings;
                    const conf = renderOpenDkimConf(settings, family, build, { project: "p", stack: "s" });
                    for (const line of conf?.split("\n") ?? []) if (line.trim() !== "" && !line.startsWith("#")) keys.add(line.split(/\s+/)[0]);
                }
        return [...keys];
    }

    /** The `-e` words of the merge's `grep -vixF` over the host's settings. */
    function mergeList(): string[] {
        const script = loadTemplate("include/opendkim-merge.sh");
        const cmd = /grep -vixF ((?:-e \w+[ \\\n]*)+)\| paste/.exec(script);
        expect(cmd, "the merge's grep -vixF list").not.toBeNull();
        return [...cmd![1].matchAll(/-e (\w+)/g)].map((m) => m[1]);
    }

    it("are every setting the stack's opendkim.conf writes, and those the merge handles itself: nothing more, nothing less", () => {
        const stack = stackSettings();
        expect(stack).toContain("KeyTable");
        expect(stack).toContain("Nameservers");
        const list = mergeList();
        expect(new Set(list).size).toBe(list.length);
        expect([...list].sort()).toEqual([...new Set([...stack, ...HANDLED])].sort());
    });
});
