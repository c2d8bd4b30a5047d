#!/usr/bin/python3
"""Verdicts on one message, as a receiving server would reach them, from Debian's own checkers.

Usage: verify.py IP MAIL_FROM HELO < message
Prints JSON: the Authentication-Results header that authheaders (python3-authheaders, Debian)
computes for the message (DKIM with python3-dkim, SPF with python3-spf, DMARC with its own
policy and alignment code), and the DMARC alignment spelled out from the same facts: the From:
domain, the DMARC record's adkim/aspf, the signing domain (d=) of the DKIM signature that
verified, and the MAIL FROM domain that SPF passed. DNS: this machine's resolver, which inside
the lab namespace is the lab's DNS server only.
"""
import json
import sys

import authheaders
from authheaders.dmarc_lookup import get_org_domain

ip, mail_from, helo = sys.argv[1:4]
msg = sys.stdin.buffer.read()

header = authheaders.authenticate_message(
    msg, "lab-receiver", spf=True, dkim=True, dmarc=True, ip=ip, mail_from=mail_from, helo=helo
)
dkim_result = authheaders.check_dkim(msg)
spf_result = authheaders.check_spf(ip, mail_from, helo)
dmarc_result = authheaders.check_dmarc(msg, spf_result, dkim_result)

from_domain = dmarc_result.header_from
_, _, _, policy, record, _ = authheaders.dmarc_per_from(from_domain, policy_only=True)
record = record or {}
adkim, aspf = record.get("adkim", "r"), record.get("aspf", "r")


def aligned(mode, domain):
    # RFC 7489 3.1: strict = the same domain; relaxed = the same organizational domain.
    if mode == "s":
        return domain == from_domain
    return get_org_domain(domain) == get_org_domain(from_domain)


mail_from_domain = authheaders.get_domain_part(mail_from)
print(json.dumps({
    "authenticationResults": header,
    "dkim": {"result": dkim_result.result, "d": dkim_result.header_d},
    "spf": {"result": spf_result.result, "mailFromDomain": mail_from_domain},
    "dmarc": {
        "result": dmarc_result.result,
        "policy": policy,
        "headerFrom": from_domain,
        "adkim": adkim,
        "aspf": aspf,
        "dkimAligned": dkim_result.result == "pass" and aligned(adkim, dkim_result.header_d),
        "spfAligned": spf_result.result == "pass" and aligned(aspf, mail_from_domain),
    },
}))
