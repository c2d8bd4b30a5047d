import { describe, expect, it } from "vitest";
import { SettingsError, validateSettings, RawSettings } from "../../components/settings";
import { exampleConfig } from "../harness";
import { DMARC_REMOVED_TAGS } from "../../components/records/dmarc";

/** The example config as validateSettings takes it, with the DMARC setting replaced (values as `pulumi config set --path` stores them). */
function raw(dmarc: unknown): RawSettings {
    const c = exampleConfig();
    return {
        domains: c["mailauth:domains"],
        mx: c["mailauth:mx"],
        spf: c["mailauth:spf"],
        dmarc,
        opendkim: c["mailauth:opendkim"],
        ssh: c["mailauth:ssh"],
        ttl: c["mailauth:ttl"],
        sshPrivateKey: "ok",
    } as RawSettings;
}

function problems(r: RawSettings): string[] {
    try {
        validateSettings(r);
    } catch (e) {
        expect(e).toBeInstanceOf(SettingsError);
        return (e as SettingsError).problems;
    }
    return [];
}

describe("DMARC tags RFC 9989 removed (pct, ri, rf)", () => {
    it("refuses pct naming its replacement, the test flag t, once and not as an unknown setting", () => {
        const found = problems(raw({ policy: "quarantine", pct: "50" }));
        expect(found).toEqual([`mailauth:dmarc.pct: ${DMARC_REMOVED_TAGS.pct}`]);
        expect(found[0]).toMatch(/RFC 9989 removed `pct`.*test flag `t=y`/);
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
