/**
 * The daemon's one root logger: JSON lines on stderr, or human-readable
 * lines when stderr is a terminal. Subsystems log through `child({ component })`.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino'
import pretty from 'pino-pretty'

export const LOG_LEVELS: LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export function createLogger (level: LevelWithSilent, base: Record<string, unknown> = {}): Logger {
  const options = { level, base: { pid: process.pid, ...base } }
  if (process.stderr.isTTY === true) {
    return pino(options, pretty({ destination: 2, colorize: true, sync: true, ignore: 'pid,hostname' }))
  }
  return pino(options, pino.destination({ dest: 2, sync: true }))
}
