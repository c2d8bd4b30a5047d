import { describe, expect, it } from "vitest";
import { validateSettings, RawSettings } from "../../components/settings";
import { exampleConfig } from "../harness";
import { DMARC_REMOVED_TAGS, DMARC_TAGS, dmarcFoProblem } from "../../components/records/dmarc";
import { exampleRawSettings, settingsProblems } from "../settings-problems";

const raw = (dmarc: unknown): RawSettings => exampleRawSettings({ dmarc });

const problems = settingsProblems;

describe("DMARC tags RFC 9989 removed (pct, ri, rf)", () => {
    it("refuses pct naming its replacement, the test flag t, once and not as an unknown setting", () => {
        const found = problems(raw({ policy: "quarantine", pct: "50" }));
        expect(found).toEqual([`mailauth:dmarc.pct: ${DMARC_REMOVED_TAGS.pct}`]);
        expect(found[0]).toMatch(/RFC 9989 removed `pct`.*test flag `t=y`.*set mailauth:dmarc\.testing to true/);
    });

    it("refuses ri and rf saying there is no replacement, with every other problem at once", () => {
        const found = problems(raw({ policy: "block", ri: "86400", rf: "afrf" }));
        expect(found).toHaveLength(3);
        expect(found).toContainEqual(expect.stringMatching(/^mailauth:dmarc\.ri: RFC 9989 removed `ri`.*no replacement/));
        expect(found).toContainEqual(expect.stringMatching(/^mailauth:dmarc\.rf: RFC 9989 removed `rf`.*no replacement/));
        expect(found).toContainEqual(expect.stringMatching(/^mailauth:dmarc\.policy: must be one of none, quarantine, reject/));
        expect(found.join("\n")).not.toMatch(/unknown setting/);
    });

    it("keeps today's record byte-identical when no removed tag is set", () => {
        const s = validateSettings(raw({ policy: "none", rua: ["dmarc-reports@example.com"] }));
        expect(s.dmarc.record).toBe("v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com");
    });

    it("still calls other unknown keys unknown settings", () => {
        expect(problems(raw({ pctx: "50" }))).toEqual([expect.stringMatching(/^mailauth:dmarc\.pctx: unknown setting/)]);
    });
});

describe("DMARC tags of RFC 9989: sp, np, t, adkim, aspf, ruf, fo", () => {
    const record = (dmarc: Record<string, unknown>) => validateSettings(raw(dmarc)).dmarc.record;

    it("writes nothing new for a config that sets none of them: today's records, byte for byte", () => {
        expect(record({ policy: "none", rua: ["dmarc-reports@example.com"] })).toBe("v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com");
        expect(record({})).toBe("v=DMARC1; p=none");
        expect(record({ policy: "reject", testing: false, ruf: [] })).toBe("v=DMARC1; p=reject");
        expect(record({ policy: "quarantine", rua: ["a@example.com", "mailto:b@example.org!10m"] })).toBe(
            "v=DMARC1; p=quarantine; rua=mailto:a@example.com,mailto:b@example.org!10m",
        );
    });

    it("writes every tag, v and p first and the others in one fixed order, whatever the order of the settings", () => {
        const all = {
            fo: "1:d:s",
            ruf: ["forensic@example.com"],
            spfAlignment: "strict",
            dkimAlignment: "relaxed",
            testing: true,
            nonexistentPolicy: "reject",
            subdomainPolicy: "quarantine",
            rua: ["dmarc-reports@example.com"],
            policy: "reject",
        };
        expect(record(all)).toBe(
            "v=DMARC1; p=reject; sp=quarantine; np=reject; t=y; adkim=r; aspf=s; rua=mailto:dmarc-reports@example.com; ruf=mailto:forensic@example.com; fo=1:d:s",
        );
        // As the CLI stores them (pulumi config set --path: strings).
        expect(record({ policy: "quarantine", testing: "true", dkimAlignment: "strict" })).toBe("v=DMARC1; p=quarantine; t=y; adkim=s");
        expect(record({ testing: "false" })).toBe("v=DMARC1; p=none");
    });

    it("never writes pct, ri or rf", () => {
        for (const dmarc of [{ testing: true }, { policy: "reject", subdomainPolicy: "none", ruf: ["f@example.com"], fo: "0" }]) {
            expect(record(dmarc)).not.toMatch(/(^|; )(pct|ri|rf)=/);
        }
        for (const removed of ["pct", "ri", "rf"]) expect(DMARC_TAGS.map((t) => t.tag)).not.toContain(removed);
    });

    it("accepts the fo option lists RFC 9989's dmarc-fo allows, in any order", () => {
        for (const fo of ["0", "1", "d", "s", "1:d", "d:s", "s:d:0", "0:d:s", "1:s"]) {
            expect(dmarcFoProblem(fo), fo).toBeUndefined();
            expect(record({ ruf: ["f@example.com"], fo })).toBe(`v=DMARC1; p=none; ruf=mailto:f@example.com; fo=${fo}`);
        }
        // As the CLI stores fo=1 without --type string: a number.
        expect(record({ ruf: ["f@example.com"], fo: 1 })).toBe("v=DMARC1; p=none; ruf=mailto:f@example.com; fo=1");
    });

    it("refuses every bad value at once, each naming its setting and what is allowed", () => {
        const found = problems(
            raw({
                subdomainPolicy: "block",
                nonexistentPolicy: "Reject",
                testing: "y",
                dkimAlignment: "s",
                spfAlignment: "loose",
                ruf: ["forensic"],
                fo: "0:1",
            }),
        );
        expect(found).toEqual([
            `mailauth:dmarc.subdomainPolicy: must be one of none, quarantine, reject, got "block"`,
            `mailauth:dmarc.nonexistentPolicy: must be one of none, quarantine, reject, got "Reject"`,
            `mailauth:dmarc.testing: must be true or false, got "y"`,
            `mailauth:dmarc.dkimAlignment: must be one of relaxed, strict, got "s"`,
            `mailauth:dmarc.spfAlignment: must be one of relaxed, strict, got "loose"`,
            expect.stringMatching(/^mailauth:dmarc\.ruf: "forensic" is not a report address: user@domain or mailto:user@domain/),
            `mailauth:dmarc.fo: "0:1": 0 and 1 exclude each other; allowed: 0, 1, d, s, colon-separated, each at most once and not both 0 and 1 (e.g. 1 or 1:d:s)`,
        ]);
    });

    it("refuses fo options that are not 0, 1, d or s, or given twice", () => {
        expect(problems(raw({ ruf: ["f@example.com"], fo: "1,d" }))).toEqual([
            expect.stringMatching(/^mailauth:dmarc\.fo: "1,d": "1,d" is not an option; allowed: 0, 1, d, s/),
        ]);
        expect(problems(raw({ ruf: ["f@example.com"], fo: "d:x:y" }))).toEqual([
            expect.stringMatching(/^mailauth:dmarc\.fo: "d:x:y": "x", "y" are not options/),
        ]);
        expect(problems(raw({ ruf: ["f@example.com"], fo: "d:d" }))).toEqual([expect.stringMatching(/^mailauth:dmarc\.fo: "d:d": "d" is given twice/)]);
        expect(problems(raw({ ruf: ["f@example.com"], fo: "1:" }))).toEqual([expect.stringMatching(/^mailauth:dmarc\.fo: "1:": "" is not an option/)]);
    });

    it("refuses fo without ruf, naming both settings: receivers ignore fo then", () => {
        expect(problems(raw({ policy: "none", rua: ["dmarc-reports@example.com"], fo: "1" }))).toEqual([
            `mailauth:dmarc.fo: "1" is set without mailauth:dmarc.ruf: receivers ignore fo unless ruf says where failure reports go (RFC 9989 4.7); add the addresses to mailauth:dmarc.ruf or remove mailauth:dmarc.fo`,
        ]);
    });

    it("counts ruf's addresses in the record's length", () => {
        const many = Array.from({ length: 12 }, (_, i) => `dmarc-reports-${i}@example.com`);
        expect(problems(raw({ rua: many }))).toEqual([]);
        expect(problems(raw({ rua: many, ruf: many }))).toEqual([
            expect.stringMatching(/^mailauth:dmarc\.rua\/ruf: the 24 addresses make the record \d+ characters; keep DMARC under 450/),
        ]);
    });
});
