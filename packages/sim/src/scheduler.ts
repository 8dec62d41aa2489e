/**
 * Virtual time: events run in time order (ties in the order they were
 * scheduled), and nothing else moves the clock. A simulated hour takes as
 * long as its events take to run.
 */
export interface Timer {
  time: number
  seq: number
  fn: () => void
  cancelled: boolean
}

export class Scheduler {
  now = 0
  /** Where an event's exception goes (a bug the run reports), instead of ending the run. */
  onError: (err: unknown) => void = err => { throw err }
  private seq = 0
  private readonly heap: Timer[] = []
  /** Events run so far. */
  events = 0

  at (time: number, fn: () => void): Timer {
    const timer: Timer = { time: Math.max(time, this.now), seq: this.seq++, fn, cancelled: false }
    this.push(timer)
    return timer
  }

  after (delay: number, fn: () => void): Timer {
    return this.at(this.now + Math.max(0, delay), fn)
  }

  /** Runs `fn` again and again, `delay()` ms apart; `timers` keeps the next run's timer (at its length now), to cancel. */
  every (timers: Timer[], delay: () => number, fn: () => void): void {
    const slot = timers.length
    const run = (): void => {
      fn()
      timers[slot] = this.after(delay(), run)
    }
    timers[slot] = this.after(delay(), run)
  }

  cancel (timer: Timer | undefined): void {
    if (timer !== undefined) timer.cancelled = true
  }

  /** Runs events up to `until` (virtual ms) or `maxEvents`; returns whether events remain before `until`. */
  run (until: number, maxEvents = Infinity): boolean {
    for (let ran = 0; ran < maxEvents; ran++) {
      const next = this.heap[0]
      if (next === undefined || next.time > until) {
        this.now = Math.max(this.now, until)
        return false
      }
      this.pop()
      if (next.cancelled) continue
      this.now = next.time
      this.events++
      try {
        next.fn()
      } catch (err) {
        this.onError(err)
      }
    }
    return true
  }

  private push (timer: Timer): void {
    const heap = this.heap
    heap.push(timer)
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1
      if (!before(heap[i] as Timer, heap[parent] as Timer)) break
      ;[heap[i], heap[parent]] = [heap[parent] as Timer, heap[i] as Timer]
      i = parent
    }
  }

  private pop (): void {
    const heap = this.heap
    const last = heap.pop() as Timer
    if (heap.length === 0) return
    heap[0] = last
    for (let i = 0; ;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < heap.length && before(heap[l] as Timer, heap[m] as Timer)) m = l
      if (r < heap.length && before(heap[r] as Timer, heap[m] as Timer)) m = r
      if (m === i) break
      ;[heap[i], heap[m]] = [heap[m] as Timer, heap[i] as Timer]
      i = m
    }
  }
}

function before (a: Timer, b: Timer): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq)
}
