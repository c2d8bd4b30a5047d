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

/** The selector whose record `name` would be under `domain` (the label before `._domainkey.<domain>`), if any. */
export function dkimSelectorOf(name: string, domain: string): string | undefined {
    const suffix = dkimRecordName("", domain);
    if (!name.endsWith(suffix)) return undefined;
    const selector = name.slice(0, -suffix.length);
    return selector.includes(".") ? undefined : selector;
}

/**
 * The DKIM TXT value of a revoked selector: RFC 6376 3.6.1, p= "An empty value means that this
 * public key has been revoked"; a verifier then fails the signature as revoked (6.1.2, "Get the Public Key":
 * PERMFAIL key revoked), not as a DNS error as it would for a record that is gone.
 */
export const REVOKED_DKIM_VALUE = "v=DKIM1; p=";

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
