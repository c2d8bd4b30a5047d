/**
 * The lab's host release (test/lab/lab.ts, labRelease): MAILAUTH_LAB_RELEASE picks Debian 13
 * (trixie, the default) or Debian 12 (bookworm); anything else stops the lab or the demo before it
 * builds or boots anything, naming what is allowed. The build script refuses the same way.
 */
import { execFileSync } from "child_process";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { LAB_RELEASES, labRelease } from "../lab";

describe("the lab's Debian release", () => {
    it("is trixie (Debian 13) unless MAILAUTH_LAB_RELEASE says bookworm (Debian 12)", () => {
        expect(labRelease(undefined)).toBe("trixie");
        expect(labRelease("")).toBe("trixie");
        expect(labRelease("bookworm")).toBe("bookworm");
        expect(LAB_RELEASES).toEqual({ trixie: "Debian 13", bookworm: "Debian 12" });
    });

    it("refuses any other value, naming the allowed ones", () => {
        expect(() => labRelease("sid")).toThrow("MAILAUTH_LAB_RELEASE is 'sid': the lab boots trixie (Debian 13, the default) or bookworm (Debian 12)");
        expect(() => labRelease("12")).toThrow(/MAILAUTH_LAB_RELEASE is '12'/);
    });

    it("build-rootfs.sh refuses a release it does not build, before debootstrap", () => {
        let err = "";
        try {
            execFileSync("bash", [path.join(__dirname, "../build-rootfs.sh"), "/nonexistent/rootfs", "/nonexistent/step", "bullseye"], { stdio: "pipe" });
        } catch (e: any) {
            err = String(e.stderr);
        }
        expect(err).toBe("build-rootfs: RELEASE is 'bullseye': trixie (Debian 13) or bookworm (Debian 12)\n");
    });
});
