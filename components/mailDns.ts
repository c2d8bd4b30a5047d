/**
 * MailDns: the mail records of one domain on Cloudflare: MX, SPF, a DKIM record per
 * published selector, DMARC, and the MX host's A/AAAA when this zone holds it. Never proxied.
 */
import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
import { dkimRecordName } from "./dkimKey";
import { quoteTxt } from "./txt";

export interface PublishedRecord {
    name: string;
    type: string;
    value: string;
}

export interface MailDnsArgs {
    domain: string;
    zoneId: string;
    ttl: number;
    /** MX target and priority; omitted when the MX is managed elsewhere. */
    mx?: { hostname: string; priority: number };
    /** A/AAAA records of the MX host, when it lies in this zone. */
    mxAddresses?: { hostname: string; ipv4?: string; ipv6?: string };
    spf: string;
    /** DMARC value; omitted to publish none. */
    dmarc?: string;
    /** DKIM TXT value per selector (active and previous). */
    dkim: Record<string, pulumi.Input<string>>;
}

export class MailDns extends pulumi.ComponentResource {
    /** The DKIM record of each selector, by selector. */
    public readonly dkimRecords: Record<string, cloudflare.DnsRecord>;
    /** Every record this component publishes: name, type and value (TXT values unquoted). */
    public readonly records: pulumi.Output<PublishedRecord[]>;

    constructor(name: string, args: MailDnsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailauth:dns:MailDns", name, {}, opts);
        const published: pulumi.Output<PublishedRecord>[] = [];
        const record = (
            id: string,
            recordName: string,
            type: string,
            value: pulumi.Input<string>,
            priority?: number,
        ): cloudflare.DnsRecord => {
            const content = type === "TXT" ? pulumi.output(value).apply(quoteTxt) : value;
            const r = new cloudflare.DnsRecord(
                `${name}-${id}`,
                { zoneId: args.zoneId, name: recordName, type, content, ttl: args.ttl, proxied: false, priority },
                { parent: this },
            );
            published.push(pulumi.output(value).apply((v) => ({ name: recordName, type, value: v })));
            return r;
        };

        if (args.mx) record("mx", args.domain, "MX", args.mx.hostname, args.mx.priority);
        if (args.mxAddresses?.ipv4) record("mx-a", args.mxAddresses.hostname, "A", args.mxAddresses.ipv4);
        if (args.mxAddresses?.ipv6) record("mx-aaaa", args.mxAddresses.hostname, "AAAA", args.mxAddresses.ipv6);
        record("spf", args.domain, "TXT", args.spf);
        this.dkimRecords = {};
        for (const [selector, value] of Object.entries(args.dkim)) {
            this.dkimRecords[selector] = record(`dkim-${selector}`, dkimRecordName(selector, args.domain), "TXT", value);
        }
        if (args.dmarc) record("dmarc", `_dmarc.${args.domain}`, "TXT", args.dmarc);

        this.records = pulumi.all(published);
        this.registerOutputs({ records: this.records });
    }
}
