/**
 * adoptRecords: the stack takes over the records already at the names it publishes, in the same
 * `pulumi up`. One local command per domain, run by the Pulumi CLI on the machine running it
 * (pulumi-command local.Command, `node -e`): on create it removes, through the Cloudflare API,
 * every record at those names that is not the stack's own (marked by its comment) and keeps
 * each one's content in its stdout; the stack's records are created after it. On delete
 * (`pulumi destroy`, after the stack's records are gone) it creates those records again as they
 * were. Update runs the create script again, starting from what it already kept
 * (PULUMI_COMMAND_STDOUT: node_modules/@pulumi/command/local/command.d.ts ~208, ~264).
 *
 * A take-over that fails part way puts back what that run deleted before it exits; the give-back
 * skips records already back, so a destroy that failed part way finishes when run again. A CNAME
 * at the zone's apex (flattened by Cloudflare) and records the stack imports are left alone.
 *
 * DKIM names are never adopted: a new key under a live selector breaks mail in transit, and even a
 * record that publishes the user's own key (mailauth:dkimKeys) is imported instead, so the selector
 * is never without its record (components/zone.ts userKeyConflict).
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as fs from "fs";
import * as path from "path";
import { DMARC_VERSION } from "./records/dmarc";
import { SPF_VERSION } from "./records/spf";
import { Target } from "./zone";

/** A name and the record types there that the stack's record replaces. */
export interface AdoptTarget {
    name: string;
    types: string[];
    /** For TXT: only SPF (`v=spf1`) or DMARC (`v=dmarc1`) records, as the zone check tells them. */
    prefix?: string;
    /** Record ids left alone: the stack's record imports them (mailauth:importRecords). */
    keep?: string[];
}

/** `imports`: mailauth:importRecords (resource name to `<zone id>/<record id>`). */
export function adoptTargets(targets: Target[], imports: Record<string, string> = {}): AdoptTarget[] {
    return targets
        .filter((t) => t.kind !== "dkim")
        .map((t) => ({
            name: t.name,
            types: [t.type, "CNAME"],
            // The script knows these two prefixes by their text, lowercase (components/adopt.js `replaced`).
            ...(t.kind === "spf" || t.kind === "helo" || t.kind === "nomail-spf"
                ? { prefix: SPF_VERSION }
                : t.kind === "dmarc" || t.kind === "report" || t.kind === "nomail-dmarc"
                  ? { prefix: DMARC_VERSION.toLowerCase() }
                  : {}),
            ...(imports[t.resource] ? { keep: [imports[t.resource].split("/")[1]] } : {}),
        }));
}

/**
 * The adopt step's script: components/adopt.js, one file in two parts chosen by the command:
 * `node -e SCRIPT take` (create, update) or `node -e SCRIPT give-back` (delete). The script sits in
 * the interpreter, the command is one word: a failed local command's error quotes the command, then
 * its output (pulumi-command v1.2.1 local/commandOutputs.go:113, `running %q:`), so the reason comes
 * first, not 10 kB of script. The interpreter is kept in state with the other inputs, so a delete
 * runs this script too.
 *
 * Its text is state: every byte of it is an input of every existing stack's adopt step, and a
 * changed input makes the engine run the step's update, the take-over again (test/unit/adopt.test.ts
 * pins its SHA-256). It changed once since it was a string here: for the stack's identity in the
 * record comments (components/stackMarker.ts), when the step's environment changes anyway; that rerun
 * leaves the stack's records alone (test/unit/stack-marker.test.ts). Its comments still name the places
 * of that time (zone.ts isSpfValue, isDmarcValue: now components/records/spf.ts, dmarc.ts). Its TXT unquoting (`txt`) is components/records/txt.ts's
 * rule, checked sample by sample in test/unit/adopt.test.ts.
 *
 * What it does:
 * - Cloudflare API v4 calls (developers.cloudflare.com/api, DNS records). The address is fixed: no
 *   setting or environment variable sends the token anywhere else (tests preload
 *   test/cloudflare-https.cjs, which points this one address at their fake on loopback).
 * - The token: pulumi-command runs a local command with the CLI's environment and then the step's
 *   `environment` input appended, the input winning on a name in both
 *   (pulumi/pulumi-command v1.2.1 provider/pkg/provider/local/commandOutputs.go:81-86), and a delete
 *   with the inputs kept in state (local/commandController.go:93-98); provider plugins inherit the
 *   CLI's environment (pulumi/pulumi v3.259.0 sdk/go/common/resource/plugin/plugin.go:500,602). So
 *   the token the program passed is MAILAUTH_CLOUDFLARE_TOKEN, and CLOUDFLARE_API_TOKEN is the CLI's
 *   own at the time the script runs. The take-over uses the program's token first (the provider's:
 *   cloudflare:apiToken, else CLOUDFLARE_API_TOKEN); the give-back, run at destroy from state,
 *   prefers the CLI's token of that moment, then the one kept in state. Refused (401/403), the next is tried.
 *   A token set in the stack's config after the last `pulumi up` cannot reach the give-back: even
 *   `pulumi destroy --run-program` deletes a custom resource with its old inputs (pulumi/pulumi
 *   v3.259.0 pkg/resource/deploy/step_generator.go:1022-1068, destroy mode); `pulumi up` first
 *   stores it (README, "Your zone already has records").
 * - Calls answered 429 wait as Retry-After says (Cloudflare blocks a user for 5 minutes once past
 *   1,200 calls in 5 minutes: developers.cloudflare.com/fundamentals/api/reference/limits), up to 6
 *   minutes in all; a lost answer or a 5xx is tried twice more. A retried POST answered 81058 ("An
 *   identical record already exists") or a retried DELETE answered 404 had gone through the first time.
 * - `take` removes the foreign records, keeping each in stdout (JSON list). A local command that fails
 *   leaves nothing in state (the provider returns no outputs with the error: pulumi-go-provider
 *   v1.3.0 infer/resource.go:1271-1292 for a create, :1463 for an update; the command's error is a
 *   plain one, pulumi-command v1.2.1 local/commandOutputs.go:112-113), so a failure part way puts
 *   back every record this run deleted before it exits, and names in full any it could not.
 * - `give-back` puts the kept records back; it refuses while the stack's own records are still there.
 *   Records already back are skipped, so a give-back that failed part way finishes when run again
 *   (`pulumi destroy` again: a delete that failed keeps the step in state).
 */
export const ADOPT_SCRIPT = fs.readFileSync(path.join(__dirname, "adopt.js"), "utf8");

export interface AdoptArgs {
    zoneId: pulumi.Input<string>;
    /** The zone's name: a CNAME at its apex is never taken over. */
    zoneName: pulumi.Input<string>;
    targets: AdoptTarget[];
    /** This stack's comment, its comment from before it had an identity, and its identity (components/stackMarker.ts). */
    marker: pulumi.Input<string>;
    legacyMarker: string;
    markerId: pulumi.Input<string>;
    /** The Cloudflare API token (secret), as the provider gets it. */
    apiToken: pulumi.Input<string>;
}

export function adoptStep(name: string, args: AdoptArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
    return new command.local.Command(
        name,
        {
            interpreter: ["node", "-e", ADOPT_SCRIPT],
            create: "take",
            update: "take",
            delete: "give-back",
            environment: {
                MAILAUTH_CLOUDFLARE_TOKEN: pulumi.secret(args.apiToken),
                MAILAUTH_ZONE_ID: args.zoneId,
                MAILAUTH_ZONE_NAME: args.zoneName,
                MAILAUTH_MARKER: args.marker,
                MAILAUTH_LEGACY_MARKER: args.legacyMarker,
                MAILAUTH_MARKER_ID: args.markerId,
                MAILAUTH_TARGETS: JSON.stringify(args.targets),
            },
            addPreviousOutputInEnv: true,
        },
        opts,
    );
}
