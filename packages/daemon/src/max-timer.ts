/**
 * The longest delay a Node timer takes: a longer one fires after 1 ms (with
 * a TimeoutOverflowWarning), which would turn a rare timer into a loop.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1
