/**
 * The stack output `records` shows what the zone publishes. A DKIM record keeps the content it was
 * created with (ignoreChanges, components/mailDns.ts): after `pulumi up --replace` on a selector's
 * key the state holds another key, and the output must still show the published one.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, describe, expect, it, vi } from "vitest";
import { dkimRecordValue } from "../../components/records/dkim";
import { PublishedRecord } from "../../components/mailDns";
import { quoteTxt, unquoteTxt } from "../../components/records/txt";
import { exampleConfig, TEST_SSH_PRIVATE_KEY } from "../harness";
import { LabRunner, RecordStore, RemoteExec } from "../lab/runner";

class Zone implements RecordStore {
    records = new Map<string, string>();
    set(name: string, type: string, _ttl: number, content: string): void {
        this.records.set(`${name} ${type}`, content);
    }
    unset(name: string, type: string): void {
        this.records.delete(`${name} ${type}`);
    }
}

/** A host on which every script succeeds; the key test answers "key OK". */
const exec: RemoteExec = async (_c, _script, stdin) => ({
    stdout: /^\S+ \S+ [0-9a-f]{16}$/m.test(stdin) ? stdin.replace(/^(\S+) (\S+) \S+$/gm, "$1 $2 key OK") : "",
    stderr: "",
});

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailauth-published-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const NAME = "20261127._domainkey.example.org";
const dkimOf = (outputs: Record<string, unknown>) => (outputs.records as PublishedRecord[]).find((r) => r.name === NAME)!.value;

describe("the records output", () => {
    it("shows the DKIM value the zone publishes, not the key the state holds after --replace on it", async () => {
        const zone = new Zone();
        const runner = new LabRunner(path.join(dir, "state.json"), zone, { privateKey: TEST_SSH_PRIVATE_KEY }, exec);
        const first = await runner.up(exampleConfig());
        const published = unquoteTxt(zone.records.get(`${NAME} TXT`)!);
        expect(published).toMatch(/^v=DKIM1; k=rsa; p=/);
        expect(dkimOf(first.outputs)).toBe(published);

        const warn = vi.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
        const after = await runner.up(exampleConfig(), { replace: ["example.org-20261127-rsa"] });
        warn.mockRestore();
        const held = dkimRecordValue(runner.resources["example.org-20261127-rsa"].outputs.publicKeyPem);
        expect(held).not.toBe(published);
        expect(unquoteTxt(zone.records.get(`${NAME} TXT`)!)).toBe(published);
        expect(dkimOf(after.outputs)).toBe(published);
        // Nothing published changed: the key test (which follows the published keys) does not run
        // again. The keys step does: its stdin holds the state's new key, which the host refuses
        // to install under the published record (templates/dkim-key.sh).
        expect(after.commandsRun).toEqual(["mailhost-keys"]);
        // The other records are as before.
        expect((after.outputs.records as PublishedRecord[]).filter((r) => r.name !== NAME)).toEqual(
            (first.outputs.records as PublishedRecord[]).filter((r) => r.name !== NAME),
        );
    });

    it("reads TXT content as Cloudflare keeps it: quoted strings joined, escapes undone", () => {
        expect(unquoteTxt('"v=DKIM1; k=rsa; p=AB" "CD"')).toBe("v=DKIM1; k=rsa; p=ABCD");
        expect(unquoteTxt('"a \\"quoted\\" \\\\ word"')).toBe('a "quoted" \\ word');
        expect(unquoteTxt("v=spf1 -all")).toBe("v=spf1 -all");
    });
});

describe("TXT content, one rule (components/records/txt.ts)", () => {
    it("gives back every value it quotes, and takes content that does not start with a quote as it is", () => {
        for (const v of ["", "v=spf1 mx ~all", 'a "quoted" \\ word', "é".repeat(200), `v=DKIM1; k=rsa; p=${"B".repeat(700)}`])
            expect(unquoteTxt(quoteTxt(v))).toBe(v);
        // As the zone check and the adopt step read anybody's record: quotes inside bare content are its text.
        expect(unquoteTxt('v=spf1 include:"_spf.example.net" ~all')).toBe('v=spf1 include:"_spf.example.net" ~all');
        expect(unquoteTxt('  "v=spf1" " -all"')).toBe("v=spf1 -all");
    });
});
