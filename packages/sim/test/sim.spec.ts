/**
 * The simulator in `npm test`: the scenario built for each hole of issue #10
 * passes and actually hits its hole. The random seeds, the exact replay and
 * the check that catches a broken replica are in seeds.spec.ts (a file of
 * their own, so the test runner runs them beside these), and the longest
 * scenarios in holes-longest.spec.ts (the same).
 */
import { describe } from 'node:test'
import { REGRESSIONS } from '../src/index.js'
import { LONGEST, itRuns } from './holes.js'

describe('simulation: the nine holes, and what seeds found since', () => {
  itRuns(Object.keys(REGRESSIONS).filter(name => !LONGEST.includes(name)))
})
