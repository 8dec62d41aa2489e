/**
 * @murmur/sim: deterministic simulation of murmur's replication core. One
 * seed decides every delay, drop, duplicate, partition, crash, clock and
 * hostile act; a failure replays exactly from its seed.
 */
export { scenario, linksOf, type Scenario, type Action, type HostileAct, type ScenarioOptions } from './scenario.js'
export { run, type RunResult } from './world.js'
export { shrink, type Shrunk } from './shrink.js'
export { REGRESSIONS } from './regressions.js'
export { main } from './cli.js'
export { runScale, defaults as scaleDefaults, type ScaleOptions, type ScaleReport } from './scale/run.js'
