/**
 * Bring your own key (mailauth:dkimKeys, components/validate/dkimKeys.ts): a selector already
 * published with the user's key keeps that key. Under the mocks: the record's value comes from the
 * user's key, no key is generated for that selector, the host's keys step gets the user's key on its
 * secret stdin; each bad key is refused naming the setting, never showing the key; the zone check
 * takes over a record that publishes the same key (run as the CLI runs the adopt step, against the
 * fake Cloudflare API) and refuses one with another key, naming both; the key is nowhere in plain text.
 */
import * as crypto from "crypto";
import { describe, expect, it, vi } from "vitest";
import { exampleConfig, programError, Registered, reveal, runProgram, SECRET_SIG, unwrapSecret } from "../harness";
import { FakeCloudflare } from "../cloudflare";
import { runStep } from "../adoptScript";
import { splitStdinStep } from "../../components/hostScripts";
import { dkimPublicKey, dkimRecordValue } from "../../components/records/dkim";
import { quoteTxt, unquoteTxt } from "../../components/records/txt";
import { checkUserKey, keyFingerprint, readDkimKeys, samePublicKey } from "../../components/validate/dkimKeys";

const SETTING = "mailauth:dkimKeys";
const ENTRY = `${SETTING}["example.com/20261127"]`;
const NAME = "20261127._domainkey.example.com";

const rsa = (bits: number) => crypto.generateKeyPairSync("rsa", { modulusLength: bits });
const USER = rsa(2048);
/** As a user's key file often is: PKCS#8 ("BEGIN PRIVATE KEY"), with a trailing newline the CLI strips. */
const USER_PEM = USER.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const USER_PKCS1 = USER.privateKey.export({ type: "pkcs1", format: "pem" }).toString();
const USER_VALUE = dkimRecordValue(USER.publicKey.export({ type: "spki", format: "pem" }).toString());
const OTHER = rsa(2048);
const OTHER_VALUE = dkimRecordValue(OTHER.publicKey.export({ type: "spki", format: "pem" }).toString());

/** The lines of a PEM's body: none may appear anywhere outside a secret. */
const bodyLines = (pem: string) => pem.split("\n").filter((l) => l && !l.startsWith("-----"));
// Less the lines that are also the public key's (the modulus), which the record publishes (as test/unit/host.test.ts does).
const SECRET_LINES = [...bodyLines(USER_PEM), ...bodyLines(USER_PKCS1)].filter((l) => !USER_VALUE.includes(l));
function expectNoKey(text: string, where: string) {
    for (const line of SECRET_LINES) expect(text.includes(line), `${where} holds a line of the private key`).toBe(false);
}

const config = (keys: Record<string, unknown> = { "example.com/20261127": USER_PEM.trimEnd() }, extra: Record<string, unknown> = {}) => ({
    ...exampleConfig(),
    [SETTING]: keys,
    ...extra,
});
const SECRET = { secretKeys: [SETTING] };

/** Every registered input with secrets left sealed: what the state keeps in plain text. */
function plainInputs(r: Registered): string {
    return JSON.stringify(r.inputs, (_k, v) => (v && typeof v === "object" && v[SECRET_SIG] ? "[secret]" : v));
}

describe("a selector with the user's own key (mailauth:dkimKeys)", () => {
    it("publishes the record of the user's key, generates no key for it, and gives the keys step the user's key as a secret", async () => {
        const run = await runProgram(config(), SECRET);
        const keys = run.resources.filter((r) => r.type === "tls:index/privateKey:PrivateKey").map((r) => r.name);
        expect(keys).not.toContain("example.com-20261127-rsa");
        expect(keys).toContain("example.org-20261127-rsa");
        // The component stays, under its name (state identity), with no key of its own.
        const component = run.resources.find((r) => r.type === "mailauth:dkim:DkimKey" && r.name === "example.com-20261127")!;
        expect(run.resources.filter((r) => r.parent === component.urn)).toEqual([]);

        const record = run.resources.find((r) => r.name === "example.com-dkim-20261127")!;
        expect(record.inputs.content).toBe(quoteTxt(USER_VALUE));
        expect(record.ignoreChanges).toContain("content");
        expect((run.outputs.records as { name: string; value: string }[]).find((r) => r.name === NAME)!.value).toBe(USER_VALUE);

        const step = run.resources.find((r) => r.name === "mailhost-keys")!;
        const stdin = unwrapSecret(step.inputs.stdin);
        expect(stdin.secret).toBe(true);
        const own = splitStdinStep(step.inputs.create, stdin.value)!.stdin;
        const p = dkimPublicKey(USER_VALUE);
        // Re-exported as PKCS#1, the form of the keys the stack makes; the same key.
        expect(own).toContain(`#mailauth-key /etc/opendkim/keys/example.com/20261127.private example.com 20261127 ${p} ${p}\n${USER_PKCS1}`);
        expect(own).toContain("example.org 20261127");
    });

    it("keeps the key out of plain text: every input but the keys step's secret stdin, the outputs", async () => {
        const run = await runProgram(config(), SECRET);
        for (const r of run.resources) expectNoKey(plainInputs(r), r.name);
        // Opened, the key is only in the keys step's stdin.
        for (const r of run.resources) {
            const { stdin, ...rest } = reveal(r.inputs);
            expectNoKey(JSON.stringify(rest), r.name);
            if (r.name !== "mailhost-keys") expectNoKey(JSON.stringify(stdin ?? ""), r.name);
        }
        // ... where it is, sealed.
        const keys = run.resources.find((r) => r.name === "mailhost-keys")!;
        expect(unwrapSecret(keys.inputs.stdin).secret).toBe(true);
        expect(unwrapSecret(keys.inputs.stdin).value).toContain(USER_PKCS1);
        expectNoKey(JSON.stringify(run.outputs), "the stack outputs");
    });

    it("reads the entry as `pulumi config set --secret --path` stores it: a path with the domain's dots, the value a string", async () => {
        const { runConfigSet, shellWords } = await import("../cli");
        const stack = { values: { ...exampleConfig() } as Record<string, unknown>, secret: new Set<string>() };
        const line = `pulumi config set --secret --path '${ENTRY}' < key.pem`;
        const { words, stdinFrom } = shellWords(line, () => "");
        expect(stdinFrom).toBe("key.pem");
        runConfigSet(stack, words, USER_PEM);
        expect(stack.values[SETTING]).toEqual({ "example.com/20261127": USER_PEM.trimEnd() });
        expect([...stack.secret]).toEqual([SETTING]);
        const run = await runProgram(stack.values, { secretKeys: [...stack.secret] });
        expect(run.resources.find((r) => r.name === "example.com-dkim-20261127")!.inputs.content).toBe(quoteTxt(USER_VALUE));
    });
});

describe("mailauth:dkimKeys: refused before anything changes, naming the setting, never showing the key", () => {
    const cases: [string, () => unknown, RegExp][] = [
        ["not a PEM", () => "not a key at all", /is not a PEM key/],
        [
            "a public key",
            () => USER.publicKey.export({ type: "spki", format: "pem" }).toString(),
            /is a public key \("BEGIN PUBLIC KEY"\), not the private key/,
        ],
        ["a PKCS#1 public key", () => USER.publicKey.export({ type: "pkcs1", format: "pem" }).toString(), /is a public key \("BEGIN RSA PUBLIC KEY"\)/],
        [
            "an encrypted PKCS#8 key",
            () => USER.privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }).toString(),
            /encrypted with a passphrase/,
        ],
        [
            "an encrypted PKCS#1 key (Proc-Type)",
            () => USER.privateKey.export({ type: "pkcs1", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }).toString(),
            /encrypted with a passphrase/,
        ],
        [
            "an Ed25519 key",
            () => crypto.generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
            /Ed25519 key \(RFC 8463\); this stack publishes and signs with RSA keys only/,
        ],
        [
            "an EC key",
            () => crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
            /an EC key; a DKIM key here must be RSA/,
        ],
        [
            "a 512-bit key",
            () => rsa(512).privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
            /512-bit RSA key; DKIM signers must use at least 1024 bits \(RFC 8301 3\.2\)/,
        ],
        ["a truncated key", () => USER_PEM.split("\n").slice(0, 5).join("\n") + "\n-----END PRIVATE KEY-----", /does not parse as a private key/],
        ["two blocks", () => USER_PEM + USER.publicKey.export({ type: "spki", format: "pem" }).toString(), /holds 2 PEM blocks/],
        ["not a string", () => 42, /must be a PEM private key/],
    ];
    for (const [what, value, message] of cases) {
        it(`${what}`, () => {
            const check = checkUserKey(value(), ENTRY);
            expect(check.ok).toBe(false);
            const problem = (check as { problem: string }).problem;
            expect(problem.startsWith(`${ENTRY}: `), problem).toBe(true);
            expect(problem).toMatch(message);
            expectNoKey(problem, what);
        });
    }

    it("a key over 4096 bits: receivers need not verify it (RFC 8301 3.2)", () => {
        const check = checkUserKey(rsa(4160).privateKey.export({ type: "pkcs1", format: "pem" }).toString(), ENTRY);
        expect((check as { problem: string }).problem).toMatch(/4160-bit RSA key; receivers are only required to verify keys of 1024 to 4096 bits/);
    });

    it("a 1024-bit key passes, with a warning to rotate", async () => {
        const small = rsa(1024).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
        const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
        let run;
        let warned: string[];
        try {
            run = await runProgram(config({ "example.com/20261127": small }), { ...SECRET, preview: true });
        } finally {
            warned = warn.mock.calls.map((c) => String(c[0]));
            warn.mockRestore();
        }
        expect(warned).toContainEqual(expect.stringMatching(/mailauth:dkimKeys\["example.com\/20261127"\]: a 1024-bit RSA key: allowed \(RFC 8301 3\.2\)/));
        // keyBits is for the keys the stack makes: no "keeps its 1024-bit key" warning.
        expect(warned.filter((w) => /keeps its/.test(w))).toEqual([]);
        expect(run.resources.find((r) => r.name === "example.com-20261127-rsa")).toBeUndefined();
    });

    it("through the program: one message per bad entry with the other problems, nothing changed, no key shown", async () => {
        const encrypted = USER.privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }).toString();
        const msg = await programError(
            config({
                "example.com/20261127": USER.publicKey.export({ type: "spki", format: "pem" }).toString(),
                "example.org/20261127": encrypted,
                "example.net/20261127": USER_PEM,
                "example.com/old": USER_PEM,
                "example.com": USER_PEM,
            }),
            SECRET,
        );
        expect(msg).toContain("configuration problem(s); nothing was changed");
        expect(msg).toContain(`${ENTRY}: is a public key`);
        expect(msg).toContain(`${SETTING}["example.org/20261127"]: the key is encrypted with a passphrase`);
        expect(msg).toContain(
            `${SETTING}["example.net/20261127"]: names no configured domain and selector; one of: example.com/20261127, example.org/20261127`,
        );
        expect(msg).toContain(`${SETTING}["example.com/old"]: names no configured domain and selector`);
        expect(msg).toContain(`${SETTING}["example.com"]: must be named "<domain>/<selector>"`);
        expectNoKey(msg, "the message");
        for (const line of bodyLines(encrypted)) expect(msg).not.toContain(line);
    });

    it("a key stored in plain text (set without --secret) is refused, saying how to set it", async () => {
        const msg = await programError(config());
        expect(msg).toContain(`${SETTING}: is stored in plain text in the stack's settings file; private keys must be set with --secret`);
        expect(msg).toContain(`pulumi config set --secret --path '${SETTING}["<domain>/<selector>"]' < key.pem`);
        expectNoKey(msg, "the message");
    });

    it("a value that is not a map (set without --path) is refused without showing it", () => {
        const read = readDkimKeys(USER_PEM, true);
        expect(read.problems).toEqual([expect.stringMatching(/mailauth:dkimKeys: must be a map of "<domain>\/<selector>" to a PEM private key/)]);
        expectNoKey(read.problems.join("\n"), "the message");
    });
});

describe("the zone check with the user's key", () => {
    const TOKEN = { "cloudflare:apiToken": "test-token" };

    it("compares keys, not their encoding: a record with PKCS#1 p= and other tags publishes the same key", () => {
        const pkcs1 = USER.publicKey.export({ type: "pkcs1", format: "der" }).toString("base64");
        expect(samePublicKey(`v=DKIM1; h=sha256; k=rsa; p=${pkcs1}`, USER_VALUE)).toBe(true);
        expect(samePublicKey(quoteTxt(USER_VALUE), USER_VALUE)).toBe(true);
        expect(samePublicKey(OTHER_VALUE, USER_VALUE)).toBe(false);
        expect(samePublicKey("v=DKIM1; p=", USER_VALUE)).toBe(false);
    });

    it("a record that publishes the same key is imported, never deleted first: the printed way out, followed literally, makes it the stack's in one up", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        const pkcs1 = USER.publicKey.export({ type: "pkcs1", format: "der" }).toString("base64");
        const theirs = cf.addRecord("example.com", { name: NAME, type: "TXT", content: `"v=DKIM1; k=rsa; p=${pkcs1}"`, comment: "old server" });
        // Before: the adopt step deleted the record and the stack made its own: for that moment the
        // selector had no record (mail in transit failed, resolvers cached the absence).
        const msg = await programError(config(undefined, TOKEN), { ...SECRET, preview: true, call: cf.call });
        expect(msg).toContain(`it publishes the key ${ENTRY} gives`);
        const zoneId = cf.zone("example.com").id;
        const command = `pulumi config set --path 'mailauth:importRecords["example.com-dkim-20261127"]' ${zoneId}/${theirs.id}`;
        expect(msg).toContain(`import it: ${command}; then pulumi up; then pulumi config rm --path 'mailauth:importRecords["example.com-dkim-20261127"]'`);
        expectNoKey(msg, "the message");
        // Followed: the record resource imports that record (same id, same key); no adopt step, nothing deleted.
        const importing = config(undefined, { ...TOKEN, "mailauth:importRecords": { "example.com-dkim-20261127": `${zoneId}/${theirs.id}` } });
        const run = await runProgram(importing, { ...SECRET, preview: true, call: cf.call });
        const record = run.resources.find((r) => r.name === "example.com-dkim-20261127")!;
        expect(record.importId).toBe(`${zoneId}/${theirs.id}`);
        expect(samePublicKey(record.inputs.content, unquoteTxt(theirs.content))).toBe(true);
        expect(run.resources.find((r) => r.name === "example.com-adopt")).toBeUndefined();
        expect(cf.zone("example.com").records.filter((r) => r.name === NAME)).toHaveLength(1);
    });

    it("with adoptRecords on, the selector's name is still never adopted (imported instead)", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        cf.addRecord("example.com", { name: NAME, type: "TXT", content: quoteTxt(USER_VALUE) });
        const msg = await programError(config(undefined, { ...TOKEN, "mailauth:adoptRecords": "true" }), { ...SECRET, preview: true, call: cf.call });
        expect(msg).toContain("import it: pulumi config set --path 'mailauth:importRecords[\"example.com-dkim-20261127\"]'");
    });

    it("an import entry for the selector is refused when the record there publishes another key", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        const r = cf.addRecord("example.com", { name: NAME, type: "TXT", content: quoteTxt(OTHER_VALUE) });
        const zoneId = cf.zone("example.com").id;
        const msg = await programError(config(undefined, { ...TOKEN, "mailauth:importRecords": { "example.com-dkim-20261127": `${zoneId}/${r.id}` } }), {
            ...SECRET,
            preview: true,
            call: cf.call,
        });
        expect(msg).toContain(`mailauth:importRecords["example.com-dkim-20261127"]: ${zoneId}/${r.id} is not a record`);
    });

    it("a record with another key is refused, naming both keys and the setting; nothing changes", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        cf.addRecord("example.com", { name: NAME, type: "TXT", content: quoteTxt(OTHER_VALUE) });
        const msg = await programError(config(undefined, TOKEN), { ...SECRET, preview: true, call: cf.call });
        expect(msg).toContain("nothing in DNS or on the host was changed");
        expect(msg).toContain(`example.com: TXT ${NAME}`);
        expect(msg).toContain(`it publishes ${keyFingerprint(OTHER_VALUE)}, and ${ENTRY} holds ${keyFingerprint(USER_VALUE)}`);
        expect(keyFingerprint(OTHER_VALUE)).not.toBe(keyFingerprint(USER_VALUE));
        expect(msg).toContain("The stack never replaces a published key under a live selector");
        expectNoKey(msg, "the message");
    });

    it("the digest it shows is the one `openssl pkey -pubout -outform DER | sha256sum` prints", () => {
        const der = USER.publicKey.export({ type: "spki", format: "der" });
        expect(keyFingerprint(USER_VALUE)).toBe(`a 2048-bit RSA key, SHA-256 ${crypto.createHash("sha256").update(der).digest("hex").slice(0, 16)}`);
    });

    it("the stack's own record with the key it made for the selector is refused: the key would change under a live selector", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        // This stack's comment from before it had an identity: taken as its own (components/stackMarker.ts).
        cf.addRecord("example.com", { name: NAME, type: "TXT", content: quoteTxt(OTHER_VALUE), comment: "managed by Pulumi stack mailauth/test (mailauth)" });
        const msg = await programError(config(undefined, TOKEN), { ...SECRET, preview: true, call: cf.call });
        expect(msg).toContain(`the stack's own record TXT ${NAME}`);
        expect(msg).toContain(`publishes ${keyFingerprint(OTHER_VALUE)}, and ${ENTRY} holds ${keyFingerprint(USER_VALUE)}`);
        expect(msg).toContain("a key never changes while its selector is live");
    });

    it("the stack's own record with the user's key (a later run) passes", async () => {
        const cf = FakeCloudflare.forConfig(exampleConfig());
        cf.addRecord("example.com", { name: NAME, type: "TXT", content: quoteTxt(USER_VALUE), comment: "managed by Pulumi stack mailauth/test (mailauth)" });
        const run = await runProgram(config(undefined, TOKEN), { ...SECRET, preview: true, call: cf.call });
        expect(run.resources.find((r) => r.name === "example.com-dkim-20261127")!.inputs.content).toBe(quoteTxt(USER_VALUE));
    });
});
