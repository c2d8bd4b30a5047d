/**
 * DKIM key records (RFC 6376): where a selector's key is published, its value, and the key a record
 * carries. Recognising one takes no rule of its own: every TXT record at a selector's name is its key
 * record (`v=DKIM1` is only recommended, RFC 6376 3.6.1; receivers fetch whatever TXT is there), which
 * is how the zone check decides (components/zone.ts conflictsWith). The key pair is components/dkimKey.ts.
 */
import * as crypto from "crypto";
import { unquoteTxt } from "./txt";

/** The name of a selector's DKIM record (RFC 6376 3.6.2.1): `<selector>._domainkey.<domain>`. */
export function dkimRecordName(selector: string, domain: string): string {
    return `${selector}._domainkey.${domain}`;
}

/** The DKIM TXT value for a public key (RFC 6376 3.6.1): `v=DKIM1; k=rsa; p=<base64 DER>`. */
export function dkimRecordValue(publicKeyPem: string): string {
    const der = crypto.createPublicKey(publicKeyPem).export({ type: "spki", format: "der" });
    return `v=DKIM1; k=rsa; p=${der.toString("base64")}`;
}

/**
 * The public key (`p=`, base64 DER) a DKIM record value or TXT content carries (RFC 6376 3.6.1:
 * tags `name=value` split by `;`, whitespace inside a value ignored), or "" when it has none.
 */
export function dkimPublicKey(valueOrContent: string): string {
    for (const tag of unquoteTxt(valueOrContent).split(";")) {
        const m = tag.match(/^\s*p\s*=([\s\S]*)$/);
        if (m) return m[1].replace(/\s+/g, "");
    }
    return "";
}
