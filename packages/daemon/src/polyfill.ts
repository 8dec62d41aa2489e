/**
 * libp2p 3 calls `Promise.withResolvers`, which Node 20 lacks (Node 22+ has
 * it). Install the standard behaviour only where it is missing; this module
 * must be imported before anything that loads libp2p.
 */
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> (this: PromiseConstructor) {
      let resolve!: (value: T | PromiseLike<T>) => void
      let reject!: (reason?: unknown) => void
      const promise = new this<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}
export {}
