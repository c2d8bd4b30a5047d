/**
 * The lab's own boot (test/lab/lab.ts LabHost.boot): a container that stops by itself while
 * booting (seen twice in full lab runs on Debian 12, its console showing systemd-halt.service) is
 * booted once more and said so; one that stops every time fails at once, naming why, not after
 * the 60 s wait for SSH. The halt is made the way systemd makes it: a unit early in boot that asks
 * for `systemctl halt`, which ends systemd-nspawn.
 */
import * as fs from "fs";
import { describe, expect, it, vi } from "vitest";
import { useLab } from "./fixture";

const lab = useLab();

/** Makes the image in `root` halt early in its boot. */
function haltAtBoot(root: string): void {
    const unit = "/etc/systemd/system/lab-halt.service";
    fs.writeFileSync(
        `${root}${unit}`,
        "[Unit]\nDescription=halt while booting (test)\nDefaultDependencies=no\n[Service]\nType=oneshot\nExecStart=/bin/systemctl --no-block halt\n[Install]\nWantedBy=sysinit.target\n",
    );
    fs.mkdirSync(`${root}/etc/systemd/system/sysinit.target.wants`, { recursive: true });
    fs.symlinkSync(unit, `${root}/etc/systemd/system/sysinit.target.wants/lab-halt.service`);
}

describe("a lab host whose container stops while booting", () => {
    it("once: booted again, said on stderr, and the host comes up with Postfix and SSH", async () => {
        const said: string[] = [];
        const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
            said.push(String(chunk));
            return true;
        });
        let boots = 0;
        try {
            await lab.fresh((root) => {
                boots++;
                if (boots === 1) haltAtBoot(root);
            });
        } finally {
            spy.mockRestore();
        }
        expect(boots).toBe(2);
        expect(said.join("")).toMatch(/mail\.example\.com's container stopped while booting \(systemd-nspawn exit .+\); booting it again once/);
        expect(lab.host!.ssh("systemctl is-active postfix ssh").trim().split("\n")).toEqual(["active", "active"]);
        expect(lab.host!.ssh("test -e /etc/systemd/system/lab-halt.service && echo there || echo gone").trim()).toBe("gone");
    });

    it("every time: fails on the second boot, at once, saying the container stopped", async () => {
        const started = Date.now();
        const spy = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
        let boots = 0;
        try {
            await expect(
                lab.fresh((root) => {
                    boots++;
                    haltAtBoot(root);
                }),
            ).rejects.toThrow(/its container stopped/);
        } finally {
            spy.mockRestore();
        }
        expect(boots).toBe(2);
        // Not two 60-second waits for SSH.
        expect(Date.now() - started).toBeLessThan(100_000);
    });
});
