/**
 * vitest globalSetup of the lab and bench projects: the run holds the lab's lock from its start to
 * its end (test/lab/lock.ts), so a second lab run, benchmark or demo waits instead of stopping this
 * one's containers. Under `flock /tmp/mailauth-lab.lock ...` it is already held, by an ancestor.
 */
import { holdLock, LAB_LOCK } from "./lock";

export default async function setup(): Promise<() => void> {
    return holdLock(LAB_LOCK);
}
