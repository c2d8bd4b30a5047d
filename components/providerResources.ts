/**
 * The provider resources the stack makes per domain (a Cloudflare record, an RSA key), registered
 * exactly as @pulumi/cloudflare's `DnsRecord` and @pulumi/tls's `PrivateKey` register them, but with
 * an output property for each input the stack sets and each output it reads, not for every one of
 * the provider's.
 *
 * Why: the SDK makes an Output (four tracked promises, one await while serializing) for every key
 * of a resource's property map, whether it is set or read (@pulumi/pulumi 3.276 runtime/rpc.js
 * transferProperties ~60-100, serializeFilteredProperties ~122-153). The generated classes put all
 * of them in (@pulumi/cloudflare 6.22.1 dnsRecord.js 127-148: thirteen inputs, six outputs;
 * @pulumi/tls 5.6.1 privateKey.js: three inputs, seven outputs), so at four records and a key a
 * domain they were 86 of the 89 properties the program tracked per domain (test/unit/provider-resources.test.ts).
 *
 * What the engine sees is the same: the type token, the name, the inputs (the SDK leaves undefined
 * values out: rpc.js 131-148, so the keys the stack does not set were never sent), and the options
 * each generated class adds, in its order: `version` from its utilities.resourceOptsDefaults(), then
 * the record's alias of the pre-v6 type (dnsRecord.js 150-152) or the key's additionalSecretOutputs
 * (privateKey.js: the engine keeps those outputs secret in the state whether or not the SDK tracks
 * them). Outputs the provider returns beyond these keys are kept in the state by the engine and
 * skipped by the SDK (rpc.js 221-237). test/unit/provider-resources.test.ts compares what both
 * classes hand to the SDK, so an upgrade of either package that changes its generated class fails there.
 */
import * as pulumi from "@pulumi/pulumi";
import * as cloudflare from "@pulumi/cloudflare";
import * as tls from "@pulumi/tls";

/** A provider's own defaults (its package version), as its generated classes take them. */
type Utilities = { resourceOptsDefaults(): pulumi.CustomResourceOptions };
const cloudflareUtilities: Utilities = require("@pulumi/cloudflare/utilities");
const tlsUtilities: Utilities = require("@pulumi/tls/utilities");

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
    /** Only when set (an MX record's). */
    declare public readonly priority: pulumi.Output<number> | undefined;
    /** Only when set. */
    declare public readonly comment: pulumi.Output<string> | undefined;

    constructor(name: string, args: DnsRecordArgs, opts: pulumi.CustomResourceOptions = {}) {
        // An unset key is not sent (rpc.js 131-148) but would still be tracked: left out, as a TXT
        // record's priority is (three records of four a domain).
        const inputs: pulumi.Inputs = {
            ...(args.comment !== undefined ? { comment: args.comment } : {}),
            content: args.content,
            name: args.name,
            ...(args.priority !== undefined ? { priority: args.priority } : {}),
            proxied: args.proxied,
            ttl: args.ttl,
            type: args.type,
            zoneId: args.zoneId,
        };
        opts = pulumi.mergeOptions(cloudflareUtilities.resourceOptsDefaults(), opts);
        opts = pulumi.mergeOptions(opts, { aliases: [preV6Alias(name, opts.parent)] });
        super(DNS_RECORD_TYPE, name, inputs, opts);
    }
}

/** The record's type before @pulumi/cloudflare v6, which the generated class names as an alias (dnsRecord.js 150-152). */
export const PRE_V6_RECORD_TYPE = "cloudflare:index/record:Record";

/** Each top-level component that said so (knownTopLevel): its children's URNs up to their type. */
const childUrnPrefixes = new WeakMap<pulumi.Resource, string>();

/**
 * Says that `component` (of `type`) has no parent but the stack, so its URN is known
 * at once: its records' alias is then given as a URN (preV6Alias). Call it only for such a component.
 */
export function knownTopLevel(component: pulumi.ComponentResource, type: string): void {
    // resource.js createUrn 34-58: the parent's URN up to its name, `$`, then the child's type and name.
    childUrnPrefixes.set(component, `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${type}$`);
}

/**
 * The generated class's alias, `{ type: "cloudflare:index/record:Record" }`, as the URN it stands for
 * when the parent's URN is known at once: the engine takes the same URN from either (pulumi
 * pkg/resource/deploy/step_generator.go collapseAliasToUrn 545-584 at 1b59498: a spec's unset name
 * and parent are the resource's; a URN is taken as it is; generateAliases 621-649 multiplies either by
 * the parent's alias alike). Why: the SDK turns every alias into a URN in the Resource constructor,
 * whatever the engine is sent (@pulumi/pulumi 3.276 resource.js 421-436 collapseAliasToUrn, createUrn
 * 34-58): seven Outputs from a spec (the parent's URN applied, then interpolated), three from a URN;
 * four a record, sixteen a domain (test/unit/program-outputs.test.ts). Another parent keeps the spec.
 */
export function preV6Alias(name: string, parent: pulumi.Resource | undefined): pulumi.Alias | string {
    const prefix = parent && childUrnPrefixes.get(parent);
    return prefix === undefined ? { type: PRE_V6_RECORD_TYPE } : `${prefix}${PRE_V6_RECORD_TYPE}::${name}`;
}

/** The inputs the stack sets on a key (a subset of tls.PrivateKeyArgs, same meaning). */
export type PrivateKeyArgs = Pick<tls.PrivateKeyArgs, "algorithm" | "rsaBits">;

/** The generated class's type token (privateKey.js 91, `PrivateKey.__pulumiType`). */
export const PRIVATE_KEY_TYPE = "tls:index/privateKey:PrivateKey";

/** An RSA key of the tls provider: its inputs, and the two PEM outputs the stack reads. */
export class PrivateKey extends pulumi.CustomResource {
    declare public readonly algorithm: pulumi.Output<string>;
    declare public readonly rsaBits: pulumi.Output<number>;
    /** PEM private key; secret (additionalSecretOutputs, as the generated class marks it). */
    declare public readonly privateKeyPem: pulumi.Output<string>;
    declare public readonly publicKeyPem: pulumi.Output<string>;

    constructor(name: string, args: PrivateKeyArgs, opts: pulumi.CustomResourceOptions = {}) {
        const props: pulumi.Inputs = { algorithm: args.algorithm, rsaBits: args.rsaBits, privateKeyPem: undefined, publicKeyPem: undefined };
        opts = pulumi.mergeOptions(tlsUtilities.resourceOptsDefaults(), opts);
        opts = pulumi.mergeOptions(opts, { additionalSecretOutputs: ["privateKeyOpenssh", "privateKeyPem", "privateKeyPemPkcs8"] });
        super(PRIVATE_KEY_TYPE, name, props, opts);
    }
}
