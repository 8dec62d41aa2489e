/**
 * The longest regression scenarios (holes.ts, LONGEST), in a file of their
 * own so that the test runner runs them beside sim.spec's.
 */
import { describe } from 'node:test'
import { LONGEST, itRuns } from './holes.js'

describe('simulation: the longest regression scenarios', () => {
  itRuns(LONGEST)
})
