/**
 * The daemon's one root logger: JSON lines on stderr, or human-readable
 * lines when stderr is a terminal. Subsystems log through `child({ component })`.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino'

export const LOG_LEVELS: LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export async function createLogger (level: LevelWithSilent, base: Record<string, unknown> = {}): Promise<Logger> {
  const options = { level, base: { pid: process.pid, ...base } }
  if (process.stderr.isTTY === true) {
    // loaded only for a terminal: a service's JSON logs do not pay for it at start
    const { default: pretty } = await import('pino-pretty')
    return pino(options, pretty({ destination: 2, colorize: true, sync: true, ignore: 'pid,hostname' }))
  }
  return pino(options, pino.destination({ dest: 2, sync: true }))
}
