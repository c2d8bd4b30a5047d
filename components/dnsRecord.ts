/**
 * A Cloudflare DNS record, registered exactly as @pulumi/cloudflare's `DnsRecord` registers it, but
 * with an output property for each input the stack sets, not for all nineteen of the provider's.
 *
 * Why: the SDK makes an Output (four tracked promises, one await while serializing) for every key
 * of a resource's property map, whether it is set or read (@pulumi/pulumi 3.276 runtime/rpc.js
 * transferProperties ~60-100, serializeFilteredProperties ~122-153). The generated class puts all
 * of them in (@pulumi/cloudflare 6.22.1 dnsRecord.js 127-148: thirteen inputs, six outputs), so at
 * four records a domain the records were 76 of the 87 properties the program tracked per domain.
 * The stack sets eight and reads two (`content`, `id`).
 *
 * What the engine sees is the same: the type token, the name, the inputs (the SDK leaves undefined
 * values out: rpc.js 131-148, so the keys the stack does not set were never sent), and the options
 * the generated class adds, in its order: `version` from utilities.resourceOptsDefaults() (dnsRecord.js
 * 150) and the alias of the pre-v6 type (151-152). Outputs the provider returns beyond these keys are
 * kept in the state by the engine and skipped by the SDK (rpc.js 221-237). test/unit/dns-record.test.ts
 * compares what both classes hand to the SDK, so an upgrade of @pulumi/cloudflare that changes the
 * generated class fails there.
 */
import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
// The provider's own defaults (its package version), as the generated class takes them.
const utilities: { resourceOptsDefaults(): pulumi.CustomResourceOptions } = require("@pulumi/cloudflare/utilities");

/** The inputs the stack sets on a record (a subset of cloudflare.DnsRecordArgs, same meaning). */
export type DnsRecordArgs = Required<Pick<cloudflare.DnsRecordArgs, "zoneId" | "name" | "type" | "ttl">> &
    Pick<cloudflare.DnsRecordArgs, "content" | "proxied" | "priority" | "comment">;

/** The generated class's type token (dnsRecord.js 80, `DnsRecord.__pulumiType`). */
export const DNS_RECORD_TYPE = "cloudflare:index/dnsRecord:DnsRecord";

export class DnsRecord extends pulumi.CustomResource {
    /** The record's value as Cloudflare holds it (a TXT value quoted). */
    declare public readonly content: pulumi.Output<string>;
    declare public readonly zoneId: pulumi.Output<string>;
    declare public readonly name: pulumi.Output<string>;
    declare public readonly type: pulumi.Output<string>;
    declare public readonly ttl: pulumi.Output<number>;
    declare public readonly proxied: pulumi.Output<boolean>;
    declare public readonly priority: pulumi.Output<number | undefined>;
    declare public readonly comment: pulumi.Output<string | undefined>;

    constructor(name: string, args: DnsRecordArgs, opts: pulumi.CustomResourceOptions = {}) {
        const inputs: pulumi.Inputs = {
            comment: args.comment,
            content: args.content,
            name: args.name,
            priority: args.priority,
            proxied: args.proxied,
            ttl: args.ttl,
            type: args.type,
            zoneId: args.zoneId,
        };
        opts = pulumi.mergeOptions(utilities.resourceOptsDefaults(), opts);
        opts = pulumi.mergeOptions(opts, { aliases: [{ type: "cloudflare:index/record:Record" }] });
        super(DNS_RECORD_TYPE, name, inputs, opts);
    }
}
