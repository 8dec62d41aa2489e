/**
 * What every command gets: the streams, the global options, and a way to
 * talk to the daemon for the length of one function.
 */
import { printJson, printLine, type CliIo } from './io.js'
import { Session, type SessionInit } from './session.js'

export interface CommandContext {
  io: CliIo
  json: boolean
  /** Aborts when the command should stop early: stdout closed, or the caller's `io.signal`. */
  signal: AbortSignal
  session: SessionInit
}

/** Runs `fn` with a connection that is closed afterwards, so the process can exit. */
export async function withSession<T> (ctx: CommandContext, fn: (session: Session) => Promise<T>): Promise<T> {
  const session = await Session.open(ctx.session)
  try {
    return await fn(session)
  } finally {
    session.close()
  }
}

/** Prints a result as JSON with `--json`, else as the line(s) `human` makes of it. */
export function emit<T> (ctx: CommandContext, result: T, human: (result: T) => string): void {
  if (ctx.json) printJson(ctx.io.stdout, result)
  else printLine(ctx.io.stdout, human(result))
}
