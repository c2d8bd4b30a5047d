/** The problems validateSettings reports for raw settings, or none: each must come as one SettingsError. */
import { expect } from "vitest";
import { RawSettings, SettingsError, validateSettings } from "../components/settings";

export function settingsProblems(r: RawSettings): string[] {
    try {
        validateSettings(r);
    } catch (e) {
        expect(e).toBeInstanceOf(SettingsError);
        return (e as SettingsError).problems;
    }
    return [];
}
