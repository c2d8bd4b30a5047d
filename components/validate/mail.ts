/**
 * Names and addresses as the records and daemons that receive them define them: host names, IP
 * addresses for DNS, and the address OpenDKIM puts on a command line. SPF domain-specs and DMARC
 * report URIs are their records' (components/records/spf.ts, dmarc.ts).
 */
import * as net from "net";

const HOSTNAME_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

/** A host name of at least two labels whose last label has a letter; one trailing dot allowed. */
export function isHostname(value: string): boolean {
    if (value.length === 0 || value.length > 253) return false;
    const labels = value.replace(/\.$/, "").split(".");
    return labels.length >= 2 && labels.every((l) => HOSTNAME_LABEL.test(l)) && /[a-z]/i.test(labels[labels.length - 1]);
}

/** One label, as a name from /etc/hosts or a search domain (`mailserver`). */
export function isSingleLabelHost(value: string): boolean {
    return HOSTNAME_LABEL.test(value) && /[a-z]/i.test(value);
}

/**
 * An IP address as a DNS A/AAAA record or a resolver can hold it: no IPv6 zone id
 * (`fe80::1%eth0` is an interface-local name; Node's net.isIP accepts it), and for IPv6 no
 * link-local address (meaningless without a zone).
 */
export function ipFamily(value: string): 0 | 4 | 6 {
    if (value.includes("%")) return 0;
    const family = net.isIP(value);
    if (family === 6 && /^fe[89ab]/i.test(value)) return 0;
    return family as 0 | 4 | 6;
}

// --- Mail addresses ---------------------------------------------------------------------------

/**
 * A local part that stays inert everywhere we put it: letters, digits and `. _ + -`, no leading,
 * trailing or doubled dot. Narrower than RFC 5322 on purpose: OpenDKIM builds
 * "<MTACommand> -t -f<ReportAddress>" and runs it through popen(), i.e. a shell (opendkim.c,
 * report sending), and DMARC gives "!" and "," meanings of their own (RFC 7489 6.4).
 */
const SAFE_LOCAL = /^(?!\.)(?!.*\.\.)[A-Za-z0-9._+-]{1,64}(?<!\.)$/;

export function isSafeAddress(address: string): boolean {
    const at = address.lastIndexOf("@");
    if (at <= 0) return false;
    return SAFE_LOCAL.test(address.slice(0, at)) && isHostname(address.slice(at + 1));
}
