/**
 * The host steps exactly as the program registers them under Pulumi's mocks: each command line,
 * stdin and triggers, secrets opened (as the provider receives them).
 */
import { reveal, runProgram, RunOptions } from "../harness";

export interface Step {
    name: string;
    create: string;
    delete?: string;
    stdin?: string;
    triggers?: unknown[];
}

export type Steps = Record<string, Step>;

export async function renderSteps(config: Record<string, unknown>, opts: RunOptions = {}): Promise<Steps> {
    const run = await runProgram(config, opts);
    const steps: Steps = {};
    for (const r of run.resources.filter((x) => x.type === "command:remote:Command")) {
        const inputs = reveal(r.inputs);
        for (const field of ["create", "delete", "stdin"]) {
            if (inputs[field] !== undefined && typeof inputs[field] !== "string") throw new Error(`${r.name}.${field} is not a string`);
        }
        const name = r.name.replace(/^mailhost-/, "");
        steps[name] = { name, create: inputs.create, delete: inputs.delete, stdin: inputs.stdin, triggers: inputs.triggers };
    }
    return steps;
}
