/** A running `murmurctl --json watch` for tests: its events as they arrive, its stderr, and a Ctrl-C. */
import { spawn } from 'node:child_process'
import { MURMURCTL, type TestNode } from './harness.js'

export interface WatchEvent { type: string, key?: string, value?: unknown, cursor?: number, expires?: number, version?: { origin: string }, entries?: Array<{ key: string, value: unknown }> }

export interface RunningWatch {
  events: () => WatchEvent[]
  /** The lines as printed (a json value's exact text, which parsing would round). */
  lines: () => string[]
  stderr: () => string
  /** SIGINT, then the exit code. */
  stop: () => Promise<number | null>
}

export function startWatch (node: TestNode, args: string[] = []): RunningWatch {
  const child = spawn(process.execPath, [MURMURCTL, '--socket', node.socket, '--json', 'watch', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => { resolve(code) }))
  return {
    events: () => out.split('\n').filter(line => line !== '').map(line => JSON.parse(line) as WatchEvent),
    lines: () => out.split('\n').filter(line => line !== ''),
    stderr: () => err,
    stop: async () => { child.kill('SIGINT'); return await exited }
  }
}
