/**
 * Which stack a DNS record belongs to, from its Cloudflare comment (issue 15.6).
 *
 * A name is not an identity: two stacks called `mailauth/prod` in two organizations or two backends,
 * a stack whose state was lost and started again, a stack renamed, all name themselves alike or not
 * as they did. So the comment leads with the id of the stack's identity, a key made once per state
 * (`mailauth-identity`, a tls.PrivateKey kept in state like the DKIM keys, never replaced): only the
 * stack holding that state writes that id. The name that follows (organization/project/stack) is for
 * people reading the dashboard; it is not what decides.
 *
 *     mailauth:3f2a9c0d17e4b5a6 managed by Pulumi stack acme/mailauth/prod
 *
 * The id comes first: Cloudflare keeps at most 100 characters of a comment on the Free plan (500 on
 * paid plans; API reference, DNS records, `comment`), so a long name is cut, never the id.
 *
 * Records written before the identity existed carry `managed by Pulumi stack <project>/<stack>
 * (mailauth)`: that comment of this stack's own project and stack is taken as this stack's (as it
 * always was), and the stack's records get the new comment in the same `up`.
 */
import * as crypto from "crypto";

/** How this stack knows its records. */
export interface OwnMarker {
    /** The comment the stack writes; undefined at a preview that creates the identity (not known yet). */
    comment?: string;
    /** The identity's id; undefined while it is being created (then no record can carry it). */
    id?: string;
    /** The comment of this project/stack before the identity existed. */
    legacy: string;
    /** organization/project/stack, as the comment names it. */
    name: string;
}

const CF_COMMENT_MAX = 100;
const ID = /^mailauth:([0-9a-f]{16})(?: managed by Pulumi stack (.*))?$/s;
const LEGACY_PREFIX = "managed by Pulumi stack ";

/** The identity's id: the first 16 hex digits of the SHA-256 of its public key (DER). */
export function identityId(publicKeyPem: string): string {
    const der = crypto.createPublicKey(publicKeyPem).export({ type: "spki", format: "der" });
    return crypto.createHash("sha256").update(der).digest("hex").slice(0, 16);
}

/** The comment the stack puts on every record it publishes. */
export function markerComment(id: string, name: string): string {
    return `mailauth:${id} managed by Pulumi stack ${name}`.slice(0, CF_COMMENT_MAX);
}

/** The comment stacks wrote before the identity (and which this stack's old records still carry). */
export function legacyComment(project: string, stack: string): string {
    return `${LEGACY_PREFIX}${project}/${stack} (mailauth)`.slice(0, CF_COMMENT_MAX);
}

/** The marker of a stack whose identity is `id` (undefined: being created). */
export function ownMarker(id: string | undefined, org: string | undefined, project: string, stack: string): OwnMarker {
    const name = [org, project, stack].filter((x) => x !== undefined && x !== "").join("/");
    return { comment: id === undefined ? undefined : markerComment(id, name), id, legacy: legacyComment(project, stack), name };
}

/** A marker from a bare comment string: a stack that knows its records by that exact comment only. */
export function asMarker(own: OwnMarker | string): OwnMarker {
    return typeof own === "string" ? { comment: own, legacy: own, name: own } : own;
}

/** Whether a comment says the record is this stack's. */
export function isOwn(comment: string | null | undefined, own: OwnMarker | string): boolean {
    const m = asMarker(own);
    if (!comment) return false;
    if (comment === m.comment || comment === m.legacy) return true;
    const id = comment.match(ID)?.[1];
    return id !== undefined && id === m.id;
}

export type Owner = { own: true } | { own: false; other: string; sameName: boolean };

/**
 * Whose record a comment says it is: this stack's, another stack's (its name as far as the comment
 * holds it, and whether that name is this stack's own: a lost state, another backend, a copy), or
 * nobody's (undefined). Another stack's comment is recognised whatever its length.
 */
export function recordOwner(comment: string | null | undefined, own: OwnMarker | string): Owner | undefined {
    if (!comment) return undefined;
    const m = asMarker(own);
    if (isOwn(comment, m)) return { own: true };
    const cut = comment.length >= CF_COMMENT_MAX;
    const v2 = comment.match(ID);
    if (v2) {
        const name = v2[2];
        const shownName = name === undefined || name === "" ? "(name cut off)" : cut ? `${name}… (comment cut at ${comment.length} characters)` : name;
        const sameName = name !== undefined && (name === m.name || (cut && m.name.startsWith(name)));
        return { own: false, other: `${shownName}, identity ${v2[1]}`, sameName };
    }
    if (!comment.startsWith(LEGACY_PREFIX) && !(comment.length >= 8 && LEGACY_PREFIX.startsWith(comment))) return undefined;
    const rest = comment.slice(LEGACY_PREFIX.length);
    const name = rest.replace(/ \(mailauth\)$/, "");
    return { own: false, other: name === rest && cut ? `${name}… (comment cut at ${comment.length} characters)` : name || "(name cut off)", sameName: false };
}
