/**
 * The streams and environment a run of murmurctl uses, so that tests can run
 * `main()` in-process with their own.
 */
import { stringifyExact, type Env } from '@murmur/protocol/client'

export interface CliIo {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  stdin: NodeJS.ReadableStream
  env: Env
  /** Stops a long-running command (`watch`) as SIGINT would. */
  signal?: AbortSignal
}

/** Fills in the process's own streams. `stdin` is read lazily: touching `process.stdin` opens a handle. */
export function resolveIo (io: Partial<CliIo>): CliIo {
  return {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    get stdin () { return io.stdin ?? process.stdin },
    env: io.env ?? process.env,
    signal: io.signal
  }
}

export function printLine (out: NodeJS.WritableStream, text: string): void {
  out.write(text + '\n')
}

/** Indented JSON; a json value read with `EXACT` (exact.ts) as its stored text. */
export function printJson (out: NodeJS.WritableStream, value: unknown): void {
  out.write(stringifyExact(value, 2) + '\n')
}

export async function readAll (input: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks)
}
