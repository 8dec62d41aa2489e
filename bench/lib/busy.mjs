/**
 * A competing CPU load: one child process that spins on one core for a
 * bounded time (it stops by itself after `ms`, and `stop()` ends it sooner,
 * by its PID), standing in for the services a config store shares its
 * machine with.
 */
import { spawn } from 'node:child_process'

export class BusyProcess {
  /** Starts spinning at once, for at most `ms`. */
  constructor (ms) {
    const code = `const end = Date.now() + ${Math.round(ms)}; let x = 0; while (Date.now() < end) x = (x * 31 + 7) % 1000003`
    this.child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' })
    this.exited = new Promise(resolve => this.child.once('exit', resolve))
  }

  async stop () {
    if (this.child.exitCode == null && this.child.signalCode == null) this.child.kill('SIGKILL')
    await this.exited
  }
}
