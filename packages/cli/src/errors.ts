/**
 * Exit codes, and the one line each expected error prints.
 */
import { CommanderError } from 'commander'
import { ConditionFailedCode, VersionNotFoundCode, InvalidBase64Error, InvalidTtlCode, isSchemaRefusal, MurmurRpcError, SocketPathError } from '@murmur/protocol/client'
import { displayText } from './format.js'

export const ExitCode = {
  Ok: 0,
  /** The daemon answered with an error (or keygen or backup could not write its file). */
  Error: 1,
  Usage: 2,
  /** The daemon could not be found, reached, or stopped answering. */
  Unavailable: 3,
  KeyNotFound: 4,
  /** A conditional write (`--if-version`, `--if-absent`) found the key otherwise: nothing was written. */
  ConditionFailed: 5,
  /** A put's value does not match the schema of its prefix, or a schema does not compile: nothing was written. */
  SchemaRefused: 6
} as const

export class KeyNotFoundError extends Error {
  static override name = 'KeyNotFoundError'
  override name = 'KeyNotFoundError'

  constructor (key: string) {
    super(`key not found: ${displayText(key)}`)
  }
}

/** murmurd is unreachable, closed the connection, or did not answer in time. */
export class DaemonUnavailableError extends Error {
  static override name = 'DaemonUnavailableError'
  override name = 'DaemonUnavailableError'
}

/** `keygen` could not create its key file (it exists already, or cannot be written). */
export class KeyFileError extends Error {
  static override name = 'KeyFileError'
  override name = 'KeyFileError'
}

/**
 * A command could not do its work and did nothing half-way: a backup's file
 * (exists, cannot be written), an import's input (unreadable, malformed: the
 * line is named), a template (cannot be read, parsed or written). Exit 1.
 */
export class CommandError extends Error {
  static override name = 'CommandError'
  override name = 'CommandError'
}

/** Options that do not go together, found once parsed (exit 2, as commander's own usage errors). */
export class UsageError extends Error {
  static override name = 'UsageError'
  override name = 'UsageError'
}

/** `health` found the daemon unhealthy; it has printed why (exit 1, nothing more to say). */
export class UnhealthyError extends Error {
  static override name = 'UnhealthyError'
  override name = 'UnhealthyError'
}

/** Prints `err` as one line (commander has already printed its own) and returns the exit code. */
export function report (err: unknown, stderr: NodeJS.WritableStream): number {
  const [code, message] = describe(err)
  if (message != null) stderr.write(`murmurctl: ${message}\n`)
  return code
}

function describe (err: unknown): [number, string | undefined] {
  if (err instanceof CommanderError) return [err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage, undefined]
  if (err instanceof InvalidBase64Error || err instanceof UsageError) return [ExitCode.Usage, err.message]
  if (err instanceof MurmurRpcError && err.code === InvalidTtlCode) return [ExitCode.Usage, err.message]
  if (err instanceof KeyNotFoundError) return [ExitCode.KeyNotFound, err.message]
  if (err instanceof UnhealthyError) return [ExitCode.Error, undefined]
  if (err instanceof KeyFileError || err instanceof CommandError) return [ExitCode.Error, err.message]
  if (err instanceof DaemonUnavailableError || err instanceof SocketPathError) return [ExitCode.Unavailable, err.message]
  if (err instanceof MurmurRpcError && err.code === ConditionFailedCode) return [ExitCode.ConditionFailed, err.message]
  if (err instanceof MurmurRpcError && err.code === VersionNotFoundCode) return [ExitCode.KeyNotFound, err.message]
  if (err instanceof MurmurRpcError && isSchemaRefusal(err.code)) return [ExitCode.SchemaRefused, err.message]
  if (err instanceof MurmurRpcError) return [ExitCode.Error, `${err.message} (${err.data.name}, code ${err.code})`]
  // Not an error we expect: keep the stack so the bug can be found.
  return [ExitCode.Error, `unexpected error: ${err instanceof Error ? err.stack : String(err)}`]
}

/** Commander's messages, as one `murmurctl:` line. */
export function formatUsageError (message: string): string {
  const text = message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()
  return `murmurctl: ${text} (see murmurctl --help)\n`
}
