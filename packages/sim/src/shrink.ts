/**
 * Finds a smaller scenario that fails the same way: drops runs of actions,
 * halving the run length each pass (delta debugging), and keeps a smaller
 * scenario only if its first failure reads like the original's.
 */
import { run, type RunResult } from './world.js'
import type { Scenario } from './scenario.js'

export interface Shrunk {
  scenario: Scenario
  result: RunResult
  runs: number
}

export function shrink (scenario: Scenario, failed: RunResult, budgetMs = 60_000): Shrunk {
  const started = Date.now()
  const kind = signature(failed.failures[0])
  let best: Shrunk = { scenario, result: failed, runs: 0 }
  const tryOne = (candidate: Scenario): boolean => {
    best.runs++
    const result = run(candidate)
    if (result.failures.length === 0 || signature(result.failures[0]) !== kind) return false
    best = { scenario: candidate, result, runs: best.runs }
    return true
  }
  for (let chunk = Math.ceil(best.scenario.actions.length / 2); chunk >= 1; chunk = Math.floor(chunk / 2)) {
    for (let i = 0; i < best.scenario.actions.length && Date.now() - started < budgetMs;) {
      const actions = [...best.scenario.actions.slice(0, i), ...best.scenario.actions.slice(i + chunk)]
      if (!tryOne({ ...best.scenario, actions })) i += chunk
    }
  }
  return best
}

/** What kind of failure a message reports, without the details that change from run to run. */
function signature (message: string | undefined): string {
  return (message ?? '').replace(/\b(n|m)\d+\b/g, 'N').replace(/[0-9]+/g, '#').slice(0, 60)
}
