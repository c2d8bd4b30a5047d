/**
 * MailHost: configures the mail server over SSH, as the guide does by hand: the SPF policy
 * agent, OpenDKIM with one key per domain and selector, and Postfix's milter settings.
 *
 * Steps, in dependency order: packages -> keys (all of them, after the DKIM records exist) ->
 * OpenDKIM -> Postfix -> key test, and after OpenDKIM the retire step (keys of dropped selectors). Every step is idempotent and has a delete that puts back what the host
 * had, so a second `pulumi up` is a no-op and `pulumi destroy` leaves the server as it was.
 * A host that does not sign (`sign: false`, an inbound-only backup MX) has packages (the SPF
 * agent's only) -> [policyd-spf] -> Postfix (the policy service, no milter), named as a signing
 * host's steps are: one that changes role keeps its steps, and the others come or go.
 */
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import {
    keyPath,
    OPENDKIM_CONF,
    OPENDKIM_ETC_DIR,
    OPENDKIM_KEY_DIR,
    OPENDKIM_RESOLVERS,
    OPENDKIM_TABLES,
    renderOpenDkimConf,
    renderOpenDkimTables,
    renderSigningTable,
    SigningDomain,
} from "./hostFiles";
import { buildScript, commandLine, KNOWN_MILTERS, ScriptSpec, stagedStdin, stdinCommandLine, stdinWithScript } from "./hostScripts";
import { OS_FAMILIES } from "./osFamilies";
import { rotationSteps } from "./dkimKey";
import { dkimPublicKey } from "./records/dkim";
import { KEY_HEADER, KEYS_END } from "./hostTexts";
import { OpenDkimSettings, PolicydSpfSettings, TestKeySettings } from "./settings";
import { POLICYD_SPF_DEFAULT_SKIP } from "./settingsTable";
import { parseBlock } from "./validate/addresses";

/** The policy agent's master.cf service and the restriction that calls it (guide, step 2). */
export const SPF_SERVICE = "policyd-spf";
export const SPF_CHECK = `check_policy_service unix:private/${SPF_SERVICE}`;
export const SPF_TIME_LIMIT = "3600";
const TESTKEY_INTERVAL_SECONDS = "10";

export interface DkimKeyInput {
    domain: string;
    selector: string;
    /** PEM private key: reaches the host on stdin only. */
    privateKeyPem: pulumi.Input<string>;
    /** The DKIM record value of that key (`v=DKIM1; k=rsa; p=...`): travels with it on stdin. */
    recordValue: pulumi.Input<string>;
    /**
     * The selector's DKIM record content as published (as kept in state: it ignores changes). The
     * key step installs only the key it publishes (templates/dkim-key.sh).
     */
    published: pulumi.Input<string>;
}

/**
 * The keys step's stdin after its script (templates/dkim-key.sh): for each key a KEY_HEADER line
 * `<key file> <domain> <selector> <published p=> <its own p=>` (`-` for none), its PEM, and
 * `KEYS_END <count>` last (components/hostTexts.ts), so that the host can tell whether each is the
 * published one and that all of them came.
 */
export function keysStdin(keys: { domain: string; selector: string; privateKeyPem: string; recordValue: string; published: string }[]): string {
    const word = (v: string) => (v === "" ? "-" : v);
    return (
        keys
            .map((k) => {
                const pem = k.privateKeyPem.endsWith("\n") ? k.privateKeyPem : `${k.privateKeyPem}\n`;
                return `${KEY_HEADER} ${keyPath(k.domain, k.selector)} ${k.domain} ${k.selector} ${word(dkimPublicKey(k.published))} ${word(dkimPublicKey(k.recordValue))}\n${pem}`;
            })
            .join("") + `${KEYS_END} ${keys.length}\n`
    );
}

/** The keys step's stdin after its script for the retire step: the key file of every configured selector. */
export function wantedKeysStdin(keys: Pick<DkimKeyInput, "domain" | "selector">[]): string {
    return keys.map((k) => `${keyPath(k.domain, k.selector)}\n`).join("");
}

export interface MailHostArgs {
    /** SSH connection to the mail server (kept secret by the provider). */
    connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
    /** The SSH user: root, or a user with passwordless sudo. */
    user: string;
    domains: SigningDomain[];
    opendkim: OpenDkimSettings;
    /** The SPF policy agent's options; none set: its file is not touched (no step). */
    policydSpf?: PolicydSpfSettings;
    /** A private key for every installed selector of every domain. */
    keys: DkimKeyInput[];
    /** The DKIM TXT records: OpenDKIM switches signing only once they exist. */
    dkimRecords: pulumi.Resource[];
    testKey: TestKeySettings;
    /** Per domain, the published DKIM value of the selector that signs this run (`signing`'s, else `selector`'s): the key test reruns when it changes. */
    activeDkimValues: Record<string, pulumi.Input<string>>;
    /**
     * Per domain, the selector the SigningTable names this run, when a domain rotates on a calendar
     * (components/signingGate.ts); unset, each domain's `selector`, the tables known at once.
     */
    signing?: pulumi.Output<Record<string, string>>;
    /**
     * Whether this host signs the domains' mail (default true). false: an inbound-only backup MX,
     * with no key, no OpenDKIM, no milter in Postfix, no key test: the SPF agent's package, its
     * policy service in Postfix (and the policyd-spf step when asked for) only. `keys`,
     * `dkimRecords`, `activeDkimValues` and `signing` are then not used. A host switching role
     * converges: the steps it no longer has are deleted (their deletes put back what the host
     * had), and Postfix's step lets go of the milter settings it set (templates/postfix.sh).
     */
    sign?: boolean;
    /**
     * Addresses (or networks) whose mail policyd-spf does not check on this host: the stack's other
     * MX hosts, which forward mail whose SPF they checked already. Added to policyd-spf's
     * skip_addresses after mailauth:policydSpf.skipAddresses (the policyd-spf step); unset or
     * empty: that setting alone decides, as before.
     */
    skipAddresses?: string[];
}

export class MailHost extends pulumi.ComponentResource {
    /** Per domain, the last verdict of opendkim-testkey ("key OK" when the record matches). */
    public readonly testKeyResults: pulumi.Output<Record<string, string>>;
    /** Known once every host step has run (components/check runs after it). */
    public readonly done: pulumi.Output<true>;
    /**
     * The step that writes the SigningTable (OpenDKIM's): once it has run, the host signs with the
     * selectors this run gives. Unset on a host that does not sign. The records the calendar revokes
     * wait for it (components/mailDns.ts MailDnsArgs.revokeAfter).
     */
    public readonly signingStep?: pulumi.Resource;

    constructor(name: string, args: MailHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailauth:host:MailHost", name, {}, opts);
        const sign = args.sign ?? true;
        const line = (spec: ScriptSpec) => commandLine(buildScript(spec), args.user);
        // A step whose script is known now: it travels on stdin, ahead of the step's own stdin, and
        // the command is one short line, so a failure's reason is not buried under the script
        // (stdinCommandLine).
        const onStdin = (id: string, spec: ScriptSpec, stdin: pulumi.Input<string> | undefined) => {
            const script = buildScript(spec);
            const own = spec.files ? stagedStdin(spec.files) : "";
            return {
                create: stdinCommandLine(script, args.user, `mailauth-${id}`),
                stdin:
                    stdin === undefined
                        ? stdinWithScript(script, own)
                        : pulumi.output(stdin).apply((s) => (s === undefined ? s : stdinWithScript(script, own + s))),
            };
        };
        // The same, for a script known only once an Output is (the signing gate's SigningTable).
        const onStdinLater = (id: string, spec: pulumi.Output<ScriptSpec>) => {
            const parts = spec.apply((s) => onStdin(id, s, undefined) as { create: string; stdin: string });
            return { create: parts.apply((p) => p.create), stdin: parts.apply((p) => p.stdin) };
        };
        const step = (
            id: string,
            // An Output when the script holds a value known only once another resource exists.
            create: ScriptSpec | pulumi.Output<ScriptSpec>,
            del: ScriptSpec | undefined,
            extra: Partial<command.remote.CommandArgs>,
            options: pulumi.CustomResourceOptions,
        ) =>
            new command.remote.Command(
                `${name}-${id}`,
                {
                    connection: args.connection,
                    delete: del && line(del),
                    addPreviousOutputInEnv: false,
                    ...extra,
                    // Staged files on stdin, after the script: the command stays the same size for any number of domains.
                    ...(pulumi.Output.isInstance(create) ? onStdinLater(id, create) : onStdin(id, create, extra.stdin)),
                },
                // A replacement (`pulumi up --replace`) must undo before it redoes: created first,
                // the new step's work would be undone by the old step's delete.
                { parent: this, deleteBeforeReplace: del !== undefined, ...options },
            );

        const packages = step(
            "packages",
            // NAMESERVERS: checked against what the installed OpenDKIM supports, before any key is put.
            // A host that does not sign installs no OpenDKIM (PACKAGES: the SPF agent's alone): nothing to check.
            {
                template: "packages",
                familyVars: ["PACKAGES"],
                signing: sign,
                vars: { NAMESERVERS: sign ? args.opendkim.nameservers.join(",") : "" },
            },
            { template: "packages-delete" },
            {},
            {},
        );

        // policyd-spf's own options, in its file (templates/policyd-spf.sh), once the package has put
        // it there and before Postfix calls the agent. A step only when a setting asks for one: a
        // stack without them runs exactly the steps it ran before, and one that drops them all
        // deletes the step, which puts the file's own lines back.
        // Registered where it always was for a signing host (after the retire step).
        const spfVars = policydSpfVars(args.policydSpf, args.skipAddresses);
        const policydSpfStep = () =>
            spfVars &&
            step(
                "policyd-spf",
                { template: "policyd-spf", familyVars: ["POLICYD_SPF_CONF"], includes: ["policyd-spf-conf"], vars: spfVars },
                { template: "policyd-spf-delete", familyVars: ["POLICYD_SPF_CONF"], includes: ["policyd-spf-conf"] },
                {},
                { dependsOn: [packages] },
            );

        // Postfix's delete is the same for either role: it puts back whatever the step recorded.
        const postfixDelete: ScriptSpec = {
            template: "postfix-delete",
            familyVars: ["MILTER"],
            milterTransport: args.opendkim.milterTransport,
            vars: { SPF_SERVICE, SPF_CHECK },
        };
        if (!sign) {
            const policydSpf = policydSpfStep();
            // The policy service alone (templates/postfix.sh, its `#@else` side of `#@if signing`);
            // MILTER: the entry a signing run put in a milter list, taken out where the user changed the list since.
            const postfix = step(
                "postfix",
                {
                    template: "postfix",
                    familyVars: ["POLICYD_SPF_BIN", "MILTER"],
                    milterTransport: args.opendkim.milterTransport,
                    signing: false,
                    vars: { SPF_SERVICE, SPF_CHECK, SPF_TIME_LIMIT },
                },
                postfixDelete,
                {},
                { dependsOn: policydSpf ? [packages, policydSpf] : [packages] },
            );
            this.testKeyResults = pulumi.output({} as Record<string, string>);
            this.done = pulumi.all([postfix.id]).apply(() => true as const);
            this.registerOutputs({ testKeyResults: this.testKeyResults });
            return;
        }

        // One step installs every key: one SSH session, not one per selector. pulumi-command dials
        // a client per command and closes only its session (v1.2.1
        // provider/pkg/provider/remote/commandOutputs.go:31-40), so every step holds a logged-in
        // session on the host until the run ends: a step per key was 1,000+ at 1,000 domains.
        // The keys travel on stdin after the script, a secret; nothing the step prints is logged
        // or kept in plain text. No ignoreChanges: a live selector's installed key never changes
        // because the host installs only the key the record publishes (templates/dkim-key.sh): a
        // replaced key in the state (`pulumi up --replace` on it, a rename) reaches the host and
        // is refused there, and a new selector's key is installed in the same step. The records
        // (their published p=) are in the stdin: the step comes after them.
        const keys = step(
            "keys",
            {
                template: "dkim-key",
                vars: {
                    KEY_DIR: OPENDKIM_KEY_DIR,
                    ETC_DIR: OPENDKIM_ETC_DIR,
                    LOST_KEY: lostKeyHelp("@DOMAIN@", "@SELECTOR@"),
                    RECORD_CHANGED: recordChangedHelp("@DOMAIN@", "@SELECTOR@"),
                },
            },
            // Destroy (after OpenDKIM's delete), or a replacement's first half (`--replace`): lets go
            // of every key the stack installed that OpenDKIM no longer signs with, putting back a
            // file of the host's own it replaced.
            { template: "dkim-key-delete", vars: { KEYTABLE: `${OPENDKIM_ETC_DIR}/KeyTable`, CONF: OPENDKIM_CONF } },
            {
                stdin: pulumi.secret(
                    // One `all` of three values a key, not an `all` of each key's three: each Output in
                    // an `all` costs two more (test/unit/program-outputs.test.ts).
                    pulumi
                        .all(args.keys.flatMap((k) => [k.privateKeyPem, k.recordValue, k.published]))
                        // A key the provider has not given (a mock without key material) leaves stdin unset.
                        .apply((held) =>
                            args.keys.some((_, i) => held[3 * i] === undefined)
                                ? (undefined as unknown as string)
                                : keysStdin(
                                      args.keys.map((k, i) => ({
                                          domain: k.domain,
                                          selector: k.selector,
                                          privateKeyPem: held[3 * i],
                                          recordValue: held[3 * i + 1],
                                          published: held[3 * i + 2],
                                      })),
                                  ),
                        ),
                ),
                logging: "none",
            },
            { dependsOn: [packages, ...args.dkimRecords], additionalSecretOutputs: ["stdout", "stderr"] },
        );

        // The tables, and an opendkim.conf per OS family (its socket differs) and resolver build
        // (`opendkim -V`); the host picks its own. A build that cannot do what is asked has none.
        // `signers`: the domains with the selector that signs this run (the SigningTable's); the KeyTable has every installed one.
        const opendkimFiles = (signers: SigningDomain[]) => {
            const files: Record<string, string> = {
                ...renderOpenDkimTables(args.domains, args.opendkim),
                SigningTable: renderSigningTable(signers),
            };
            for (const family of OS_FAMILIES) {
                for (const build of OPENDKIM_RESOLVERS) {
                    const conf = renderOpenDkimConf(args.opendkim, family, build);
                    if (conf !== undefined) files[`opendkim.conf.${family}.${build}`] = conf;
                }
            }
            return files;
        };
        const opendkimVars = { CONF: OPENDKIM_CONF, ETC_DIR: OPENDKIM_ETC_DIR, TABLES: OPENDKIM_TABLES.join(" ") };
        const milter = { familyVars: ["SOCKET_DIR" as const, "MAKE_SOCKET_DIR" as const], milterTransport: args.opendkim.milterTransport };
        const opendkimSpec = (signers: SigningDomain[]): ScriptSpec => ({
            template: "opendkim",
            vars: opendkimVars,
            files: opendkimFiles(signers),
            includes: ["opendkim-merge"],
            ...milter,
        });
        const opendkim = step(
            "opendkim",
            // With a calendar, the SigningTable names the selector the gate lets sign (the KeyTable has every installed one).
            args.signing
                ? args.signing.apply((sig) => opendkimSpec(args.domains.map((d) => ({ ...d, selector: sig[d.name] ?? d.selector }))))
                : opendkimSpec(args.domains),
            { template: "opendkim-delete", vars: opendkimVars },
            {},
            { dependsOn: [keys, ...args.dkimRecords] },
        );
        this.signingStep = opendkim;

        // A selector taken out of the config: its key goes once OpenDKIM no longer names it, so
        // after OpenDKIM's step (deletes of the old per-key steps ran at the end of the run for
        // the same reason). Stdin: the key files still configured. Its own delete has nothing
        // to do: the keys step's delete lets go of the rest.
        const retire = step(
            "keys-retire",
            { template: "dkim-key-retire", vars: { KEYTABLE: `${OPENDKIM_ETC_DIR}/KeyTable`, CONF: OPENDKIM_CONF } },
            undefined,
            { stdin: wantedKeysStdin(args.keys) },
            { dependsOn: [opendkim] },
        );

        const policydSpf = policydSpfStep();
        const postfix = step(
            "postfix",
            {
                template: "postfix",
                includes: ["postfix-milters"],
                familyVars: ["POLICYD_SPF_BIN", "MILTER"],
                milterTransport: args.opendkim.milterTransport,
                vars: {
                    SPF_SERVICE,
                    SPF_CHECK,
                    SPF_TIME_LIMIT,
                    KNOWN_MILTERS: KNOWN_MILTERS.join(" "),
                    // Its Socket (and the host's original one) tells which milter entries reach OpenDKIM.
                    OPENDKIM_CONF,
                },
            },
            postfixDelete,
            {},
            { dependsOn: policydSpf ? [opendkim, policydSpf] : [opendkim] },
        );

        // One key test for every domain, over one SSH session: the domains, selectors and a digest
        // of each published value travel on stdin, so a changed key changes the step (an update,
        // which runs `create` again: pulumi-command commandController.go ~76-80), and the host
        // tests only the domains whose key changed or was not verified yet.
        // The per-domain steps it replaces (mailhost-testkey-<domain>) had no delete: dropping them
        // runs nothing on the host.
        if (args.testKey.enabled) {
            // The selector that signs this run: on a calendar, the signing gate's (args.signing).
            const list = pulumi
                .all([pulumi.all(args.domains.map((d) => args.activeDkimValues[d.name])), args.signing ?? pulumi.output({} as Record<string, string>)])
                .apply(([values, sig]) =>
                    args.domains
                        .map((d, i) => `${d.name} ${sig[d.name] ?? d.selector} ${crypto.createHash("sha256").update(values[i]).digest("hex").slice(0, 16)}\n`)
                        .join(""),
                );
            const test = step(
                "testkey",
                {
                    template: "testkey",
                    vars: {
                        CONF: OPENDKIM_CONF,
                        TIMEOUT: String(args.testKey.timeoutSeconds),
                        INTERVAL: TESTKEY_INTERVAL_SECONDS,
                    },
                },
                { template: "testkey-delete" },
                { stdin: list },
                { dependsOn: [postfix] },
            );
            this.testKeyResults = test.stdout.apply(parseTestKeyOutput);
            this.done = pulumi.all([retire.id, postfix.id, test.id]).apply(() => true as const);
        } else {
            this.testKeyResults = pulumi.output({} as Record<string, string>);
            this.done = pulumi.all([retire.id, postfix.id]).apply(() => true as const);
        }
        this.registerOutputs({ testKeyResults: this.testKeyResults });
    }
}

/**
 * The policyd-spf step's values (templates/policyd-spf.sh): each key's line, empty for a key the
 * stack leaves alone; undefined when it leaves them all alone (no step). `skipAddresses`: the
 * host's own (MailHostArgs.skipAddresses), merged into the setting's list (`mergeSkipAddresses`).
 */
export function policydSpfVars(settings: PolicydSpfSettings | undefined, skipAddresses: string[] = []): Record<string, string> | undefined {
    const vars = {
        HELO_REJECT: settings?.heloReject ?? "",
        MAIL_FROM_REJECT: settings?.mailFromReject ?? "",
        SKIP_ADDRESSES: mergeSkipAddresses(settings?.skipList, skipAddresses) ?? "",
    };
    return Object.values(vars).some((v) => v !== "") ? vars : undefined;
}

/**
 * policyd-spf's skip_addresses with `extra` in it: `list` (mailauth:policydSpf's, components/
 * settings.ts readPolicydSpf: the package's own entries first, then the user's), or the package's
 * own entries where it is unset, then each entry of `extra` that none of those covers, as given.
 * Undefined, as `list` is, when that leaves the package's own list (the key is not the stack's).
 * An entry policyd-spf could not read would end its whole list there (spf_engine/__init__.py
 * :240-243, python3-spf-engine 3.0.4-2; see readPolicydSpf), so one is a programming error here:
 * the hosts' addresses are validated as settings.
 */
export function mergeSkipAddresses(list: string | undefined, extra: string[]): string | undefined {
    const entries = list === undefined ? [...POLICYD_SPF_DEFAULT_SKIP] : list.split(",");
    const blocks = entries.map((e) => parseBlock(e));
    let added = false;
    for (const entry of extra) {
        const block = parseBlock(entry);
        if (block === undefined || parseBlock(entry.split("/")[0])!.first !== block.first) {
            throw new Error(`MailHost skipAddresses: ${JSON.stringify(entry)} is not an IPv4 or IPv6 address or network (without host bits)`);
        }
        if (blocks.some((b) => b !== undefined && b.family === block.family && b.first <= block.first && block.last <= b.last)) continue;
        entries.push(entry);
        blocks.push(block);
        added = true;
    }
    return added ? entries.join(",") : list;
}

/** What to do when a selector's published key is gone from the host and the stack holds another one. */
export function lostKeyHelp(domain: string, selector: string): string {
    return (
        `Put the published key back at ${keyPath(domain, selector)} (from a backup) and run pulumi up again. ` +
        `Without one, ${selector} cannot sign again: rotate to a new selector and take ${selector} out of the config ` +
        `(pulumi config set --path 'mailauth:domains[<i>].selector' <new>, and remove ${selector} from previousSelectors; pulumi up); ` +
        `mail signed with the lost key and still in transit then fails verification, as it would with any other key under ${selector}`
    );
}

/**
 * What to do when the installed key is the one the stack holds, and the selector's DKIM record
 * publishes another: the record was made or changed outside this stack's view. The record is the
 * MailDns resource `<domain>-dkim-<selector>` (components/mailDns.ts).
 */
export function recordChangedHelp(domain: string, selector: string): string {
    return (
        `Publish the installed key again with pulumi up --replace on the selector's DKIM record ` +
        `(the URN ending in ::${domain}-dkim-${selector}, see pulumi stack --show-urns). Mail signed with the other key and still in transit ` +
        `fails verification either way; next time, rotate instead: ${rotationSteps(domain, selector)}`
    );
}

/** The key test's lines `<domain> <selector> <verdict>`, as a verdict per domain. */
export function parseTestKeyOutput(stdout: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const line of stdout.split("\n")) {
        const m = line.match(/^(\S+) \S+ (.+)$/);
        if (m) out[m[1]] = m[2];
    }
    return out;
}
