/**
 * What the engine does between runs, met on a real host: a delete whose result was lost (the SSH
 * session dropped after the script ran) stays in state and is run again by the next `up`; the
 * stack's delete must converge when it finds its work already done.
 */
import { describe, expect, it } from "vitest";
import { useLab } from "./fixture";
import { LabRunner, opensshExec, RemoteExec } from "./runner";

const lab = useLab();

describe("a step whose result was lost", () => {
    it("is retried by the next run, which converges: the key is gone, the other domain still signs", async () => {
        await lab.fresh();
        await lab.runner.up(lab.config());
        const removed = lab.config({ "mailauth:domains": [{ name: "example.com", zoneId: "0".repeat(32), selector: "s1" }] });
        // The step that removes the dropped domain's key (after OpenDKIM's: components/mailHost.ts).
        const keyStep = "mailhost-keys-retire";

        // The step runs on the host, then its exit status never arrives.
        const ssh = opensshExec(lab.keys);
        const lossy: RemoteExec = async (connection, script, stdin) => {
            const out = await ssh(connection, script, stdin);
            if (script.endsWith(" mailauth-keys-retire")) throw new Error("connection lost after the retire step ran");
            return out;
        };
        const interrupted = new LabRunner(lab.runner.statePath, lab.dns.batched, lab.keys, lossy);
        await expect(interrupted.up(removed)).rejects.toThrow(/connection lost/);
        expect(lab.host!.ssh("ls /etc/opendkim/keys").trim()).toBe("example.com");
        // A failed update keeps the old state: the step stays as it was, to be run again.
        expect(interrupted.resources[keyStep].inputs.stdin).toContain("/example.org/");

        // The next `pulumi up` is a new process reading the same state.
        const next = new LabRunner(lab.runner.statePath, lab.dns.batched, lab.keys);
        const report = await next.up(removed);
        // The key test follows Postfix's (unchanged) step, beside the retire step: whether it ran
        // before the lost result stopped the run depends on timing.
        expect(report.operations.map((o) => `${o.op} ${o.name}`).filter((o) => o !== "update mailhost-testkey")).toEqual([`update ${keyStep}`]);
        expect(next.resources[keyStep].inputs.stdin).not.toContain("/example.org/");
        expect(lab.dns.query("s1._domainkey.example.org", "TXT")).toBe("");
        expect(lab.host!.ssh("opendkim -n 2>&1; echo rc=$?").trim()).toBe("rc=0");
        expect(lab.dkimverify(await lab.sendLocal("alice@example.com", "after-retried-delete"))).toBe("signature ok");
        expect((await next.up(removed)).steps).toEqual([]);
    });
});
