/** The lab runner's DNS side for host tests: record sets in memory, no DNS server. */
import { RecordStore } from "../lab/runner";

/** The zone: each record set by name and type, as the runner writes it (a replacement adds before it removes). */
export class Zone implements RecordStore {
    private sets = new Map<string, string[]>();
    records = { get: (nameType: string) => (this.sets.get(nameType) ?? []).join("\n") || undefined };
    set(name: string, type: string, _ttl: number, content: string): void {
        this.sets.set(`${name} ${type}`, [...(this.sets.get(`${name} ${type}`) ?? []), content]);
    }
    unset(name: string, type: string, content: string): void {
        const left = (this.sets.get(`${name} ${type}`) ?? []).filter((c) => c !== content);
        if (left.length === (this.sets.get(`${name} ${type}`) ?? []).length) throw new Error(`no such record: ${name} ${type}`);
        this.sets.set(`${name} ${type}`, left);
    }
}
