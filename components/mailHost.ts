/**
 * MailHost: configures the mail server over SSH, as the guide does by hand: the SPF policy
 * agent, OpenDKIM with one key per domain and selector, and Postfix's milter settings.
 *
 * Steps, in dependency order: packages -> keys -> OpenDKIM (after the DKIM records exist) ->
 * Postfix -> key test. Every step is idempotent and has a delete that puts back what the host
 * had, so a second `pulumi up` is a no-op and `pulumi destroy` leaves the server as it was.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import {
    OPENDKIM_CONF,
    OPENDKIM_ETC_DIR,
    OPENDKIM_KEY_DIR,
    renderOpenDkimConf,
    renderOpenDkimTables,
    SigningDomain,
} from "./hostFiles";
import { buildScript, commandLine, KNOWN_MILTERS, ScriptSpec } from "./hostScripts";
import { OS_FAMILIES } from "./osFamilies";
import { OpenDkimSettings, TestKeySettings } from "./settings";

/** The policy agent's master.cf service and the restriction that calls it (guide, step 2). */
export const SPF_SERVICE = "policyd-spf";
export const SPF_CHECK = `check_policy_service unix:private/${SPF_SERVICE}`;
export const SPF_TIME_LIMIT = "3600";
/** Every main.cf setting the stack may change; destroy puts each one back. */
export const POSTFIX_PARAMS = [
    "policyd-spf_time_limit",
    "smtpd_recipient_restrictions",
    "milter_default_action",
    "milter_protocol",
    "smtpd_milters",
    "non_smtpd_milters",
];
const TESTKEY_INTERVAL_SECONDS = "10";

export interface DkimKeyInput {
    domain: string;
    selector: string;
    /** PEM private key: reaches the host on stdin only. */
    privateKeyPem: pulumi.Input<string>;
}

export interface MailHostArgs {
    /** SSH connection to the mail server (kept secret by the provider). */
    connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
    /** The SSH user: root, or a user with passwordless sudo. */
    user: string;
    domains: SigningDomain[];
    opendkim: OpenDkimSettings;
    /** A private key for every installed selector of every domain. */
    keys: DkimKeyInput[];
    /** The DKIM TXT records: OpenDKIM switches signing only once they exist. */
    dkimRecords: pulumi.Resource[];
    testKey: TestKeySettings;
    /** Per domain, the published DKIM value of the active selector: the key test reruns when it changes. */
    activeDkimValues: Record<string, pulumi.Input<string>>;
}

export class MailHost extends pulumi.ComponentResource {
    /** Per domain, the last verdict of opendkim-testkey ("key OK" when the record matches). */
    public readonly testKeyResults: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: MailHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("mailauth:host:MailHost", name, {}, opts);
        const step = (
            id: string,
            create: ScriptSpec,
            del: ScriptSpec | undefined,
            extra: Partial<command.remote.CommandArgs>,
            options: pulumi.CustomResourceOptions,
        ) =>
            new command.remote.Command(
                `${name}-${id}`,
                {
                    connection: args.connection,
                    create: commandLine(buildScript(create), args.user),
                    delete: del && commandLine(buildScript(del), args.user),
                    addPreviousOutputInEnv: false,
                    ...extra,
                },
                // A replacement (`pulumi up --replace`) must undo before it redoes: created first,
                // the new step's work would be undone by the old step's delete.
                { parent: this, deleteBeforeReplace: del !== undefined, ...options },
            );

        const packages = step(
            "packages",
            { template: "packages", familyVars: ["PACKAGES"] },
            { template: "packages-delete" },
            {},
            {},
        );

        const keyVars = (k: DkimKeyInput) => ({ DOMAIN: k.domain, SELECTOR: k.selector, KEY_DIR: OPENDKIM_KEY_DIR });
        const keys = args.keys.map((k) =>
            step(
                `key-${k.domain}-${k.selector}`,
                { template: "dkim-key", vars: keyVars(k) },
                { template: "dkim-key-delete", vars: keyVars(k) },
                // The key travels on stdin; nothing it prints is logged or kept in plain text.
                { stdin: pulumi.secret(k.privateKeyPem), logging: "none" },
                { dependsOn: [packages], additionalSecretOutputs: ["stdout", "stderr"] },
            ),
        );

        // The tables, and an opendkim.conf per OS family (its socket differs); the host picks its own.
        const files: Record<string, string> = { ...renderOpenDkimTables(args.domains, args.opendkim) };
        for (const family of OS_FAMILIES) files[`opendkim.conf.${family}`] = renderOpenDkimConf(args.opendkim, family);
        const opendkimVars = { CONF: OPENDKIM_CONF, ETC_DIR: OPENDKIM_ETC_DIR };
        const milter = { familyVars: ["SOCKET_DIR" as const], milterTransport: args.opendkim.milterTransport };
        const opendkim = step(
            "opendkim",
            { template: "opendkim", vars: opendkimVars, files, ...milter },
            { template: "opendkim-delete", vars: opendkimVars },
            {},
            { dependsOn: [...keys, ...args.dkimRecords] },
        );

        const postfix = step(
            "postfix",
            {
                template: "postfix",
                familyVars: ["POLICYD_SPF_BIN", "MILTER"],
                milterTransport: args.opendkim.milterTransport,
                vars: {
                    SPF_SERVICE,
                    SPF_CHECK,
                    SPF_TIME_LIMIT,
                    PARAMS: POSTFIX_PARAMS.join(" "),
                    KNOWN_MILTERS: KNOWN_MILTERS.join(" "),
                },
            },
            {
                template: "postfix-delete",
                familyVars: ["MILTER"],
                milterTransport: args.opendkim.milterTransport,
                vars: { SPF_SERVICE, SPF_CHECK },
            },
            {},
            { dependsOn: [opendkim] },
        );

        const results: Record<string, pulumi.Output<string>> = {};
        if (args.testKey.enabled) {
            for (const d of args.domains) {
                const test = step(
                    `testkey-${d.name}`,
                    {
                        template: "testkey",
                        vars: {
                            CONF: OPENDKIM_CONF,
                            DOMAIN: d.name,
                            SELECTOR: d.selector,
                            TIMEOUT: String(args.testKey.timeoutSeconds),
                            INTERVAL: TESTKEY_INTERVAL_SECONDS,
                        },
                    },
                    undefined,
                    // Read-only: rerun only when the published key changes.
                    { triggers: [args.activeDkimValues[d.name]] },
                    { dependsOn: [postfix] },
                );
                results[d.name] = test.stdout.apply((out) => out.trim().replace(/^\S+ \S+ /, ""));
            }
        }
        this.testKeyResults = pulumi.output(results);
        this.registerOutputs({ testKeyResults: this.testKeyResults });
    }
}

