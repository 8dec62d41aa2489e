/** murmurctl running in the background against a test node (template, exec), stopped by its PID. */
import { spawn, type ChildProcess } from 'node:child_process'
import { MURMURCTL, type TestNode } from './harness.js'

export class Background {
  readonly child: ChildProcess
  stderr = ''
  readonly exited: Promise<number | null>

  constructor (node: TestNode, args: string[]) {
    this.child = spawn(process.execPath, [MURMURCTL, '--socket', node.socket, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child.stderr?.on('data', (d: Buffer) => { this.stderr += d.toString() })
    this.child.stdout?.on('data', (d: Buffer) => { this.stderr += d.toString() })
    this.exited = new Promise(resolve => this.child.on('exit', code => resolve(code)))
  }

  /** SIGTERM, and SIGKILL should it still run `forceMs` later (a murmurctl that hangs fails its test, not the whole run). */
  async stop (forceMs = 60_000): Promise<number | null> {
    if (this.child.exitCode == null && this.child.signalCode == null) this.child.kill('SIGTERM')
    const force = setTimeout(() => this.child.kill('SIGKILL'), forceMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(force)
    }
  }
}
