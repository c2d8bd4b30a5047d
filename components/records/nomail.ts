/**
 * The records of a name that sends and receives no mail (mailauth:noMail), as Mail-in-a-Box
 * publishes them for every name without MX: an SPF record no host passes, a DMARC policy that
 * rejects what fails it, and optionally a null MX.
 */
import { DMARC_VERSION, dmarcRecordName } from "./dmarc";
import { SPF_VERSION } from "./spf";

/** `v=spf1 -all`: no host may send mail from the name (RFC 7208 5.1: `all` matches every host; `-` fail). */
export const NO_MAIL_SPF_VALUE = `${SPF_VERSION} -all`;

/**
 * `v=DMARC1; p=reject`: receivers reject mail whose From is the name (RFC 9989 4.7, the `p` tag). An
 * explicit record at `_dmarc.<name>` even for a subdomain of a configured domain, whose receivers
 * would otherwise use the parent's `sp`/`np` (RFC 9989 4.10): it holds whatever the parent says.
 */
export const NO_MAIL_DMARC_VALUE = `${DMARC_VERSION}; p=reject`;

/**
 * The null MX, `MX 0 .` (RFC 7505 3: preference 0, an exchange of the root, the only MX at the name;
 * senders then bounce mail to the name at once, 3.2). Cloudflare takes it as content "." with
 * priority 0, as github.com/vojtechmares/terraform-cloudflare-no-mail publishes it (its readme says
 * the null MX "has a priority of 0 and content ."); not verified against the API here: docs/not-verified.md.
 */
export const NULL_MX = { content: ".", priority: 0 } as const;

/** `_dmarc.<name>`: where the no-mail DMARC record goes (the longest name these records have). */
export function noMailDmarcName(name: string): string {
    return dmarcRecordName(name);
}
