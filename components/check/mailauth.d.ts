/**
 * Types for the one file of mailauth 7.1.0 (npm, pinned exactly in package.json) that the check
 * loads by path and that ships none: lib/dmarc/get-dmarc-record.js. (lib/spf ships
 * lib/spf/index.d.ts.) Both are loaded by path because the package's main module
 * (lib/mailauth.js) imports undici 8, which needs Node.js >= 22.19, and the tests run on
 * Node.js 20; these two files require only node: modules and small packages (lib/tools.js:5-16).
 */
declare module "mailauth/lib/dmarc/get-dmarc-record" {
    import type { DNSResolver } from "mailauth";
    namespace getDmarcRecord {
        /** A parsed record: tag names lowercased, values of literal tags lowercased, `rr` the text (get-dmarc-record.js:96-150). */
        interface DmarcRecord {
            v?: string;
            p?: string;
            sp?: string;
            np?: string;
            rua?: string;
            ruf?: string;
            psd?: string;
            rr: string;
            [tag: string]: unknown;
        }
        /** The record at `_dmarc.<name>`, or false (none, or several: get-dmarc-record.js:154-173). */
        type Lookup = (name: string) => Promise<DmarcRecord | false>;
        function parseDmarcRecord(txt: string, opts?: { strict?: boolean; warnings?: Set<string> }): DmarcRecord | null;
        function createRecordLookup(resolver?: DNSResolver, opts?: { strict?: boolean }): Lookup;
        /** The organizational domain by the DNS tree walk (RFC 9989 4.10.2; get-dmarc-record.js:237-246). */
        function getOrgDomain(domain: string, lookup: Lookup): Promise<string>;
    }
    /** The record that applies to `domain` as a receiver finds it (get-dmarc-record.js:292-306), or false. */
    function getDmarcRecord(
        domain: string,
        resolver?: DNSResolver,
        opts?: { strict?: boolean },
    ): Promise<(getDmarcRecord.DmarcRecord & { isOrgRecord: boolean; recordDomain: string; orgDomain: string }) | false>;
    export = getDmarcRecord;
}
