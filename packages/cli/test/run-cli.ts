/** Runs murmurctl in-process through `main()`, or as the real bin in a child process. */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { setTimeout as delay } from 'node:timers/promises'
import { main } from '../src/main.js'

export const BIN = fileURLToPath(new URL('../../bin/murmurctl.cjs', import.meta.url))

let home: string | undefined

/** An environment with no MURMUR_* and an empty default data root, so no real daemon is found. */
export function isolatedEnv (): Record<string, string> {
  if (home == null) {
    const dir = mkdtempSync(join(tmpdir(), 'murmurctl-home-'))
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    home = dir
  }
  return { HOME: home, XDG_DATA_HOME: join(home, 'data'), PATH: process.env.PATH ?? '' }
}

export class Capture extends Writable {
  private readonly chunks: Buffer[] = []

  override _write (chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.chunks.push(Buffer.from(chunk))
    done()
  }

  get bytes (): Buffer {
    return Buffer.concat(this.chunks)
  }

  get text (): string {
    return this.bytes.toString('utf8')
  }
}

export interface RunOptions {
  stdin?: string | Buffer
  env?: Record<string, string>
  signal?: AbortSignal
}

export interface Running {
  stdout: Capture
  stderr: Capture
  exit: Promise<number>
}

export function start (argv: string[], opts: RunOptions = {}): Running {
  const stdout = new Capture()
  const stderr = new Capture()
  const stdin = Readable.from(opts.stdin != null ? [Buffer.from(opts.stdin)] : [])
  const exit = main(argv, { stdout, stderr, stdin, env: opts.env ?? isolatedEnv(), signal: opts.signal })
  return { stdout, stderr, exit }
}

export interface Ran {
  code: number
  stdout: string
  stdoutBytes: Buffer
  stderr: string
}

export async function run (argv: string[], opts: RunOptions = {}): Promise<Ran> {
  const { stdout, stderr, exit } = start(argv, opts)
  const code = await exit
  return { code, stdout: stdout.text, stdoutBytes: stdout.bytes, stderr: stderr.text }
}

export interface Spawned {
  stdout: Capture
  stderr: Capture
  exit: Promise<{ code: number | null, stderr: string }>
  kill: (signal: NodeJS.Signals) => void
}

/** Starts the bin; the child is killed if it outlives `deadlineMs`, so a hang fails the test. */
export function spawnCli (args: string[], opts: { env?: Record<string, string>, stdin?: string, deadlineMs?: number } = {}): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], { env: opts.env ?? isolatedEnv(), stdio: 'pipe' })
  const stdout = new Capture()
  const stderr = new Capture()
  child.stdout.pipe(stdout)
  child.stderr.pipe(stderr)
  child.stdin.end(opts.stdin)
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.deadlineMs ?? 10_000)
  const exit = new Promise<{ code: number | null, stderr: string }>(resolve => {
    child.on('close', code => {
      clearTimeout(timer)
      resolve({ code, stderr: stderr.text })
    })
  })
  return { stdout, stderr, exit, kill: signal => child.kill(signal) }
}

/** Polls `predicate` until it holds, failing after `deadlineMs`. */
export async function waitFor (predicate: () => boolean, what: string, deadlineMs = 5000): Promise<void> {
  const deadline = Date.now() + deadlineMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(5)
  }
}
