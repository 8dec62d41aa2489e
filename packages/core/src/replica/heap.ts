/**
 * A binary heap: `first(a, b)` is true when `a` comes out before `b`. The
 * waiting ops' bookkeeping keeps its lookups in heaps, so that none passes
 * over every origin or op that waits: the largest origin and the origins the
 * clock has reached (`pending.ts`), an origin's furthest and lowest seqs and
 * the next time the clock lets one of its ops go (`origin-waits.ts`).
 */
export class Heap<T> {
  private readonly first: (a: T, b: T) => boolean
  private items: T[] = []

  constructor (first: (a: T, b: T) => boolean) {
    this.first = first
  }

  get size (): number {
    return this.items.length
  }

  peek (): T | undefined {
    return this.items[0]
  }

  push (item: T): void {
    const { items } = this
    let i = items.length
    items.push(item)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.first(item, items[parent] as T)) break
      items[i] = items[parent] as T
      i = parent
    }
    items[i] = item
  }

  pop (): T | undefined {
    const { items } = this
    const top = items[0]
    const last = items.pop()
    if (items.length === 0 || last === undefined) return top
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      let next = i
      let item: T = last
      if (left < items.length && this.first(items[left] as T, item)) { next = left; item = items[left] as T }
      if (left + 1 < items.length && this.first(items[left + 1] as T, item)) next = left + 1
      if (next === i) break
      items[i] = items[next] as T
      i = next
    }
    items[i] = last
    return top
  }

  /** Empties it and pushes `items`. */
  reset (items: Iterable<T>): void {
    this.items = []
    for (const item of items) this.push(item)
  }
}
