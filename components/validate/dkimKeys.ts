/**
 * `mailauth:dkimKeys`: the user's own DKIM private keys, `{"<domain>/<selector>": "<PEM>"}`, for a
 * selector already published with that key (a domain migrated from a server set up by hand). Each key
 * is checked here, before anything is made, without its text ever reaching a message: its PEM type,
 * that it is a private key and not encrypted, its algorithm and size. What passes is re-exported as
 * PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), the form of the keys the stack generates (@pulumi/tls), and
 * kept only inside a secret Output.
 *
 * Sizes: RFC 8301 3.2: "Signers MUST use RSA keys of at least 1024 bits for all keys. Signers SHOULD
 * use RSA keys of at least 2048 bits. Verifiers MUST be able to validate signatures with keys ranging
 * from 1024 bits to 4096 bits". So 1024 to 4096 bits are accepted (a key already published is kept as
 * it is, with a warning under 2048), as no receiver need verify a larger one. Only RSA: the stack
 * publishes `k=rsa` records and signs rsa-sha256 (components/records/dkim.ts); Ed25519 (RFC 8463) is
 * refused with that reason.
 */
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { dkimPublicKey, dkimRecordValue } from "../records/dkim";
import { show } from "./show";

/** RFC 8301 3.2: a signer's RSA key is at least 1024 bits, should be 2048, and verifiers need check no more than 4096. */
export const USER_KEY_MIN_BITS = 1024;
export const USER_KEY_RECOMMENDED_BITS = 2048;
export const USER_KEY_MAX_BITS = 4096;

/** A user's key as the stack uses it: the private key only inside a secret Output. */
export interface UserDkimKey {
    /** PKCS#1 PEM, secret. */
    privateKeyPem: pulumi.Output<string>;
    /** The DKIM record value of its public key (`v=DKIM1; k=rsa; p=...`): not secret. */
    recordValue: string;
    bits: number;
}

export type UserKeyCheck = ({ ok: true } & UserDkimKey) | { ok: false; problem: string };

/**
 * The public key a DKIM record value or TXT content carries, as SubjectPublicKeyInfo DER, or undefined
 * when it holds none that parses. Records carry SubjectPublicKeyInfo DER (what dkimRecordValue writes,
 * and what RFC 6376 Appendix C's `openssl rsa -pubout` makes); a bare PKCS#1 RSAPublicKey is read too
 * (which tools publish one was not checked here), so keys are compared, not their encodings.
 */
export function recordPublicKey(recordValueOrContent: string): Buffer | undefined {
    const p = dkimPublicKey(recordValueOrContent);
    if (p === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(p)) return undefined;
    const der = Buffer.from(p, "base64");
    for (const type of ["spki", "pkcs1"] as const) {
        try {
            return crypto.createPublicKey({ key: der, format: "der", type }).export({ type: "spki", format: "der" });
        } catch {
            /* the other encoding */
        }
    }
    return undefined;
}

/** Whether two record values (or TXT contents) publish the same public key. */
export function samePublicKey(a: string, b: string): boolean {
    const ka = recordPublicKey(a);
    const kb = recordPublicKey(b);
    return ka !== undefined && kb !== undefined && ka.equals(kb);
}

/** How a key is named in messages: its size and a short digest of its public key, which never reveals the private key. */
export function keyFingerprint(recordValueOrContent: string): string {
    const der = recordPublicKey(recordValueOrContent);
    if (der === undefined) return "no RSA public key that parses";
    const bits = crypto.createPublicKey({ key: der, format: "der", type: "spki" }).asymmetricKeyDetails?.modulusLength ?? 0;
    return `a ${bits}-bit RSA key, SHA-256 ${crypto.createHash("sha256").update(der).digest("hex").slice(0, 16)}`;
}

/** The command that prints a PEM private key's digest as keyFingerprint shows it (its first 16 hex digits). */
export const FINGERPRINT_COMMAND = "openssl pkey -in key.pem -pubout -outform DER | sha256sum";

const PEM = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n-----END \1-----/g;

/**
 * Checks one key. `path`: how the setting is named, e.g. `mailauth:dkimKeys["example.com/mail"]`.
 * No message holds any part of the value.
 */
export function checkUserKey(value: unknown, path: string): UserKeyCheck {
    const what = `a PEM private key (the contents of the key file OpenDKIM signs with, "-----BEGIN RSA PRIVATE KEY-----" or "-----BEGIN PRIVATE KEY-----"), set with: pulumi config set --secret --path '${path}' < key.pem`;
    if (typeof value !== "string" || value.trim() === "") {
        return { ok: false, problem: `${path}: must be ${what}; got ${typeof value === "string" ? "an empty value" : show(value)}` };
    }
    const blocks = [...value.matchAll(PEM)];
    if (blocks.length === 0) return { ok: false, problem: `${path}: is not a PEM key; it must be ${what}` };
    const labels = blocks.map((b) => b[1]);
    const privates = blocks.filter((b) => b[1].endsWith("PRIVATE KEY"));
    if (privates.length === 0) {
        const label = labels[0];
        const kind = label.endsWith("PUBLIC KEY") ? "a public key" : label === "CERTIFICATE" ? "a certificate" : `a PEM ${label}`;
        return {
            ok: false,
            problem: `${path}: is ${kind} ("BEGIN ${label}"), not the private key: the stack installs the private key on the server to sign with, and derives the record's p= from it. Give the private key the selector's record publishes (OpenDKIM's key file, e.g. /etc/opendkim/keys/<domain>/<selector>.private)`,
        };
    }
    if (privates.length > 1 || labels.length > 1) {
        return { ok: false, problem: `${path}: holds ${labels.length} PEM blocks (${labels.join(", ")}); it must hold exactly one private key` };
    }
    const [text, label, body] = privates[0];
    if (label === "ENCRYPTED PRIVATE KEY" || /^Proc-Type: 4,ENCRYPTED/m.test(body)) {
        return {
            ok: false,
            problem: `${path}: the key is encrypted with a passphrase, which OpenDKIM cannot use; decrypt it (openssl pkey -in key.pem -out plain.pem) and set that, with --secret`,
        };
    }
    if (label === "OPENSSH PRIVATE KEY") {
        return { ok: false, problem: `${path}: is an OpenSSH key, not a DKIM key OpenDKIM reads; it must be ${what}` };
    }
    let key: crypto.KeyObject;
    try {
        key = crypto.createPrivateKey({ key: text, format: "pem" });
    } catch {
        // Node's message is left out: it says nothing the user needs, and nothing of the key may reach a message.
        return {
            ok: false,
            problem: `${path}: the "BEGIN ${label}" block does not parse as a private key (truncated, or its lines mixed up?); it must be ${what}`,
        };
    }
    const type = key.asymmetricKeyType;
    if (type === "ed25519") {
        return {
            ok: false,
            problem: `${path}: is an Ed25519 key (RFC 8463); this stack publishes and signs with RSA keys only (k=rsa, rsa-sha256). Give the selector's RSA key, or let the stack make one for a new selector (remove the entry)`,
        };
    }
    if (type !== "rsa") {
        return {
            ok: false,
            problem: `${path}: is ${type === undefined ? "a key of unknown type" : `an ${type.toUpperCase()} key`}; a DKIM key here must be RSA (k=rsa, RFC 8301)`,
        };
    }
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < USER_KEY_MIN_BITS) {
        return {
            ok: false,
            problem: `${path}: is a ${bits}-bit RSA key; DKIM signers must use at least ${USER_KEY_MIN_BITS} bits (RFC 8301 3.2), and receivers ignore weaker signatures. Rotate to a new selector instead (remove the entry: the stack makes a 2048-bit key; README: "Rotating the DKIM key")`,
        };
    }
    if (bits > USER_KEY_MAX_BITS) {
        return {
            ok: false,
            problem: `${path}: is a ${bits}-bit RSA key; receivers are only required to verify keys of ${USER_KEY_MIN_BITS} to ${USER_KEY_MAX_BITS} bits (RFC 8301 3.2), so some would fail its signatures. Rotate to a new selector with a key of at most ${USER_KEY_MAX_BITS} bits`,
        };
    }
    const publicKeyPem = crypto.createPublicKey(key).export({ type: "spki", format: "pem" }).toString();
    return {
        ok: true,
        privateKeyPem: pulumi.secret(key.export({ type: "pkcs1", format: "pem" }).toString()),
        recordValue: dkimRecordValue(publicKeyPem),
        bits,
    };
}

/** `mailauth:dkimKeys` as read from the CLI: each entry checked, the map's own problem, whether it is stored encrypted. */
export interface DkimKeysRead {
    /** By the key as set (`<domain>/<selector>`). */
    entries: Record<string, UserKeyCheck>;
    /** A problem with the map itself (not a map; stored in plain text). */
    problems: string[];
}

export const DKIM_KEYS_SETTING = "mailauth:dkimKeys";
/** How one entry is named in messages and commands: the path form `["..."]` keeps the dots of the domain (sdk/go/common/resource/properties_path.go). */
export const dkimKeyPath = (key: string) => `${DKIM_KEYS_SETTING}[${JSON.stringify(key)}]`;
const SET_ONE = `pulumi config set --secret --path '${dkimKeyPath("<domain>/<selector>")}' < key.pem`;

/**
 * Reads `mailauth:dkimKeys` (`text`: the JSON the CLI hands the program; `secret`: whether the CLI
 * marked it encrypted). `pulumi config set --secret --path` encrypts the one value at that path and
 * the key as a whole counts as secret (pulumi/pulumi sdk/go/common/resource/config/map.go Set ~225-269:
 * the object is marshalled again with its secure leaf, value.go NewSecureObjectValue; map.go
 * SecureKeys); set without `--secret`, the PEM is in the stack's file in plain text: refused.
 */
export function readDkimKeys(text: string | undefined, secret: boolean): DkimKeysRead {
    const out: DkimKeysRead = { entries: {}, problems: [] };
    if (text === undefined || text.trim() === "") return out;
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch {
        value = undefined;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        // Never shown: it may be a key set without --path.
        out.problems.push(`${DKIM_KEYS_SETTING}: must be a map of "<domain>/<selector>" to a PEM private key, one entry per selector: ${SET_ONE}`);
        return out;
    }
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return out;
    if (!secret) {
        out.problems.push(
            `${DKIM_KEYS_SETTING}: is stored in plain text in the stack's settings file; private keys must be set with --secret. Remove it (pulumi config rm ${DKIM_KEYS_SETTING}) and set each key again: ${SET_ONE} (if that file was shared or committed, the key is exposed: rotate to a new selector instead)`,
        );
        return out;
    }
    for (const [k, v] of entries) out.entries[k] = checkUserKey(v, dkimKeyPath(k));
    return out;
}
