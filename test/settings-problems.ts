/** Raw settings as validateSettings takes them, and the problems it reports for them. */
import { expect } from "vitest";
import { RawSettings, SettingsError, validateSettings } from "../components/settings";
import { exampleConfig } from "./harness";

/** The example config as validateSettings takes it, with `patch` applied per setting. */
export function exampleRawSettings(patch: Partial<Record<keyof RawSettings, unknown>> = {}): RawSettings {
    const c = exampleConfig();
    const base: RawSettings = {
        domains: c["mailauth:domains"],
        mx: c["mailauth:mx"],
        spf: c["mailauth:spf"],
        dmarc: c["mailauth:dmarc"],
        opendkim: c["mailauth:opendkim"],
        ssh: c["mailauth:ssh"],
        ttl: c["mailauth:ttl"],
        sshPrivateKey: "ok",
    };
    return { ...base, ...patch } as RawSettings;
}

/** The problems validateSettings reports for raw settings, or none: each must come as one SettingsError. */

export function settingsProblems(r: RawSettings): string[] {
    try {
        validateSettings(r);
    } catch (e) {
        expect(e).toBeInstanceOf(SettingsError);
        return (e as SettingsError).problems;
    }
    return [];
}
