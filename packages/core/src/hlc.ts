/**
 * A hybrid logical clock (Kulkarni et al., 2014): stamps follow physical time
 * when it moves forward, and a logical counter orders events within one
 * millisecond or while physical time lags behind a stamp already seen. Stamps
 * never go backwards, even when the physical clock does.
 */
import { compareStamps } from './compare.js'
import type { Stamp } from './types.js'

export interface HybridLogicalClockInit {
  /** Physical time in milliseconds since the epoch. Default: `Date.now`. */
  now?: () => number
  /** A stamp to start from, e.g. the store's persisted clock. Default: `{ wall: 0, logical: 0 }`. */
  initial?: Stamp
}

export class HybridLogicalClock {
  private readonly physical: () => number
  private last: Stamp

  constructor (init: HybridLogicalClockInit = {}) {
    this.physical = init.now ?? Date.now
    this.last = { ...(init.initial ?? { wall: 0, logical: 0 }) }
  }

  /** A stamp for a local event, above every stamp issued or seen so far. */
  now (): Stamp {
    return this.advancePast(this.last)
  }

  /** A stamp for receiving `remote`, above both it and every stamp issued or seen so far. */
  update (remote: Stamp): Stamp {
    return this.advancePast(compareStamps(remote, this.last) > 0 ? remote : this.last)
  }

  /** The latest stamp issued or seen, without advancing. */
  peek (): Stamp {
    return { ...this.last }
  }

  /**
   * The HLC rule in one step: physical time if it is ahead of `floor`,
   * otherwise `floor` with its counter bumped. Stamps travel as integers, so
   * a fractional physical clock is truncated.
   */
  private advancePast (floor: Stamp): Stamp {
    const physical = Math.floor(this.physical())
    this.last = physical > floor.wall
      ? { wall: physical, logical: 0 }
      : { wall: floor.wall, logical: floor.logical + 1 }
    return { ...this.last }
  }
}
