/**
 * A zone of many domains as the stack publishes them, for the check's scale tests and its bench:
 * `d0001.example`, `d0002.example`, ... each with the stack's SPF record, an MX to one shared MX
 * host, one DKIM selector (a 2048-bit key's p=, 392 characters), and DMARC reports to
 * `dmarc@example.com`, which authorizes them (RFC 7489 7.1); the MX host with its IPv4 and IPv6
 * address, their PTRs and the HELO SPF record.
 */
import * as crypto from "crypto";
import { CheckInput, ptrName } from "../components/check";
import type { Zone } from "./dns-server";

export const MX_HOST = "mail.example.com";
export const MX_IPV4 = "192.0.2.10";
export const MX_IPV6 = "2001:db8::10";

export const domainName = (i: number) => `d${String(i + 1).padStart(4, "0")}.example`;

export function manyDomains(n: number): { zone: Zone; input: CheckInput } {
    const zone: Zone = {
        "example.com": { TXT: ["v=spf1 mx ~all"], MX: [{ priority: 10, exchange: MX_HOST }] },
        "_dmarc.example.com": { TXT: ["v=DMARC1; p=none; rua=mailto:dmarc@example.com"] },
        [MX_HOST]: { A: [MX_IPV4], AAAA: [MX_IPV6], TXT: ["v=spf1 a -all"] },
        [ptrName(MX_IPV4)]: { PTR: [MX_HOST] },
        [ptrName(MX_IPV6)]: { PTR: [MX_HOST] },
    };
    const domains: CheckInput["domains"] = [];
    for (let i = 0; i < n; i++) {
        const name = domainName(i);
        const key = crypto.randomBytes(294).toString("base64");
        zone[name] = { TXT: ["v=spf1 mx ~all"], MX: [{ priority: 10, exchange: MX_HOST }] };
        zone[`s1._domainkey.${name}`] = { TXT: [`v=DKIM1; k=rsa; p=${key}`] };
        zone[`_dmarc.${name}`] = { TXT: ["v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"] };
        zone[`${name}._report._dmarc.example.com`] = { TXT: ["v=DMARC1"] };
        domains.push({ name, dkim: [{ selector: "s1", publicKey: key }], mxHost: MX_HOST, addresses: [MX_IPV4, MX_IPV6] });
    }
    return { zone, input: { domains, timeoutMs: 2000 } };
}
