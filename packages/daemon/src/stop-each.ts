/**
 * Stops parts in order, each whether or not one before it failed: a part that
 * would not stop (a socket file that cannot be removed) must not leave the
 * ones after it running, the database open and the data dir locked. The first
 * failure is thrown once every step has run.
 */
export async function stopEach (steps: Array<() => unknown>): Promise<void> {
  let failure: unknown
  let failed = false
  for (const step of steps) {
    try {
      await step()
    } catch (err) {
      if (!failed) failure = err
      failed = true
    }
  }
  if (failed) throw failure
}
