/**
 * Hostile state on the host around the stack's own state directory, /var/lib/mailauth (issue
 * 23.6): owned by another user, or a planted link, it stops every step before any change; made
 * by the stack, it is root's 0700. Real scripts on a throwaway host (test/host/fakeHost.ts).
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { exampleConfig } from "../harness";
import { FakeHost, missingPrerequisite } from "./fakeHost";
import { renderSteps, Steps } from "./steps";

const MAIN_CF = "myhostname = mail.example.com\nmydestination = $myhostname, localhost\ncompatibility_level = 3.6\n";

describe("the state directory on a hostile host", () => {
    let steps: Steps;
    let host: FakeHost;
    beforeAll(async () => {
        const why = missingPrerequisite();
        if (why) throw new Error(why);
        steps = await renderSteps(exampleConfig());
    });
    beforeEach(async () => {
        host = await FakeHost.start();
        host.write("/etc/postfix/main.cf", MAIN_CF);
        host.write("/var/lib/fakehost/packages", "opendkim\nopendkim-tools\npostfix-policyd-spf-python\n");
        host.unit("postfix", { active: true, enabled: true });
    });
    afterEach(() => host?.stop());

    it("is made root's, mode 0700, by the first step that keeps state", () => {
        const r = host.run(steps.postfix.create, steps.postfix.stdin);
        expect(r.code, r.stderr).toBe(0);
        expect(host.stat("/var/lib/mailauth")).toBe("700 root:root");
    });

    it("is made root's, mode 0700, by the packages step too (the first step, when it creates policyd-spf's user or installs packages)", () => {
        host.write("/var/lib/fakehost/packages", "opendkim\n");
        const r = host.run(steps.packages.create, steps.packages.stdin);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain("created user policyd-spf");
        expect(host.stat("/var/lib/mailauth")).toBe("700 root:root");
    });

    it.each([
        ["owned by another user", "install -d -m 0755 -o nobody /var/lib/mailauth", /is owned or writable by a user other than root \(nobody:root 755\)/],
        ["world-writable", "install -d -m 0777 /var/lib/mailauth", /is owned or writable by a user other than root \(root:root 777\)/],
        ["a planted link", "mkdir -p /srv/elsewhere; ln -s /srv/elsewhere /var/lib/mailauth", /is not a directory \(a symbolic link or a file\)/],
    ])("%s: the step stops before any change", (_, setup, message) => {
        host.sh(setup);
        host.clearCalls();
        const r = host.run(steps.postfix.create, steps.postfix.stdin);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(message);
        expect(host.read("/etc/postfix/main.cf")).toBe(MAIN_CF);
        expect(host.calls().filter((c) => /^systemctl (?!is-|show )/.test(c))).toEqual([]);
        expect(host.sh("ls -A /srv/elsewhere 2>/dev/null || true")).toBe("");
    });
});
