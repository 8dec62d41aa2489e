/**
 * A process's clock set off by libfaketime, preloaded straight into it (not
 * through the `faketime` wrapper: the wrapper shares its clock with the
 * children it starts through a semaphore and a shared-memory file named by
 * its own PID, which outlive a wrapper that is killed, as a test's stop
 * kills a murmurd's process group; a later wrapper given that PID failed at
 * once, "sem_open: File exists", and with it the test).
 */
import { existsSync } from 'node:fs'

/** libfaketime's library, where Debian and a source build put it; undefined when not installed. */
export const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1', '/usr/local/lib/faketime/libfaketime.so.1'].find(existsSync)

/** Why a test that needs libfaketime is skipped, or false. */
export const noFakeTime: string | false = LIBFAKETIME === undefined ? 'libfaketime is not installed (apt-get install -y faketime)' : false

/**
 * `env` and its arguments: what runs after them has its wall clock `offset`
 * off (libfaketime's `FAKETIME`, e.g. `+2h`, `-30s`), its monotonic clock
 * left alone (timers and timeouts keep real time).
 */
export function fakeTime (offset: string): string[] {
  return ['env', `LD_PRELOAD=${LIBFAKETIME as string}`, `FAKETIME=${offset}`, 'FAKETIME_DONT_FAKE_MONOTONIC=1']
}
