/**
 * `murmurctl exec --prefix p [--signal SIGTERM] -- <command…>` (after
 * envconsul): runs a command with the keys under a prefix as environment
 * variables, and restarts it when they change. A key's variable is its name
 * without the prefix, upper-cased, each character other than A-Z, 0-9 and _
 * made _ (`app/db/port` under `app/` is DB_PORT). Binary values are left out.
 * A key's variable replaces one murmurctl inherited (PATH, HOME), said once.
 * murmurctl stays in front: SIGINT/SIGTERM go to the command, and murmurctl
 * exits with the command's exit code when it ends on its own (or on SIGKILL,
 * `--kill-timeout` after a forwarded signal it outlasts). Every signal goes to
 * the command's process group (see process-group.ts), its children too.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { constants } from 'node:os'
import { CommandError } from '../errors.js'
import { followPrefix } from '../follow.js'
import { signalGroup, stopGroup } from '../process-group.js'
import type { CommandContext } from '../context.js'
import { valueText, type Entry } from '@murmur/protocol/client'

export interface ExecOptions {
  prefix: string
  signal: NodeJS.Signals
  killTimeout: number
}

/**
 * The variables for `entries` (and the key of each), what had to be left
 * out, and the variables that more than one key maps to (`app/db_port` and
 * `app/db/port` are both DB_PORT): neither value may silently win, so those
 * are reported, in key order, and the caller runs nothing with them.
 */
export function environmentOf (entries: Entry[], prefix: string): { env: Record<string, string>, keys: Record<string, string>, skipped: string[], clashes: string[] } {
  const env: Record<string, string> = {}
  const keyOf = new Map<string, string[]>()
  const skipped: string[] = []
  for (const entry of entries) {
    const upper = entry.key.slice(prefix.length).toUpperCase().replace(/[^A-Z0-9_]/g, '_')
    const value = valueText(entry)
    if (entry.encoding === 'base64' || value.includes('\u0000') || upper === '') {
      skipped.push(entry.key)
      continue
    }
    const name = /^[0-9]/.test(upper) ? `_${upper}` : upper
    env[name] = value
    keyOf.set(name, [...keyOf.get(name) ?? [], entry.key])
  }
  const clashes = [...keyOf].filter(([, keys]) => keys.length > 1).map(([name, keys]) => `${name} is the variable of ${keys.map(key => JSON.stringify(key)).join(' and ')}`)
  return { env, keys: Object.fromEntries([...keyOf].map(([name, keys]) => [name, keys[0] as string])), skipped, clashes }
}

export function isSignal (name: string): name is NodeJS.Signals {
  return Object.hasOwn(constants.signals, name)
}

export async function exec (ctx: CommandContext, command: string[], opts: ExecOptions): Promise<number> {
  const say = (line: string): void => { ctx.io.stderr.write(`murmurctl exec: ${line}\n`) }
  const finished = new AbortController()
  let child: ChildProcess | undefined
  let exitCode = 0
  let current = ''
  let restarting = false
  /** Inherited variables a key has replaced, each said once. */
  const replaced = new Set<string>()
  const start = (env: Record<string, string>): void => {
    const proc = spawn(command[0] as string, command.slice(1), { env: { ...process.env, ...env }, stdio: 'inherit', detached: true })
    child = proc
    proc.on('error', err => {
      say(`cannot run ${command[0]}: ${err.message}`)
      exitCode = 127
      finished.abort()
    })
    proc.on('exit', (code, signal) => {
      if (child !== proc || restarting) return
      exitCode = code ?? 128 + (constants.signals[signal as NodeJS.Signals] ?? 0)
      say(`${command[0]} ${signal != null ? `ended by ${signal}` : `exited ${code}`}`)
      finished.abort()
    })
  }
  const stopChild = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child
    if (proc == null || proc.exitCode != null || proc.signalCode != null) return
    const exited = new Promise(resolve => proc.once('exit', resolve))
    stopGroup(proc, signal, opts.killTimeout, () => { say(`${command[0]} still running ${opts.killTimeout} ms after ${signal}: SIGKILL`) })
    await exited
  }
  // our own SIGINT/SIGTERM go to the command (SIGKILL --kill-timeout later); we exit when it does (during a
  // restart: once the old one has, starting none; the restart's own SIGKILL bounds that wait)
  let interrupted: NodeJS.Signals | undefined
  const forward = (signal: NodeJS.Signals): void => {
    if (child === undefined) { // still waiting for murmurd (or the first keys): nothing to stop but ourselves
      say(`stopped by ${signal} before ${command[0]} started`)
      exitCode = 128 + (constants.signals[signal] ?? 0)
      finished.abort()
    } else if (restarting) {
      interrupted ??= signal
      if (child !== undefined) signalGroup(child, signal)
    } else void stopChild(signal)
  }
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  try {
    await followPrefix(ctx, { prefix: opts.prefix, signal: AbortSignal.any([ctx.signal, finished.signal]), say }, async entries => {
      if (finished.signal.aborted) return // keys that came in as we were stopped start nothing
      const { env, keys, skipped, clashes } = environmentOf(entries, opts.prefix)
      if (clashes.length > 0) {
        const why = `keys under ${JSON.stringify(opts.prefix)} map to one variable: ${clashes.join('; ')}; rename or delete all but one`
        if (child == null) throw new CommandError(`${why}, then run murmurctl exec again`)
        say(`${why}: ${command[0]} left running with the variables it has`)
        return
      }
      const next = JSON.stringify(env)
      if (child != null && next === current) return
      if (skipped.length > 0) say(`left out of the environment (binary, or no name): ${skipped.join(', ')}`)
      // the key wins (it is what the command is run for), but PATH or HOME changing under it must not go unsaid
      for (const name of Object.keys(env).filter(name => Object.hasOwn(process.env, name) && !replaced.has(name))) {
        replaced.add(name)
        say(`${JSON.stringify(keys[name])} sets ${name}, replacing the ${name} murmurctl was started with; rename the key to keep that one`)
      }
      current = next
      if (child == null) {
        say(`starting ${command[0]} with ${Object.keys(env).length} variables from ${JSON.stringify(opts.prefix)}`)
        start(env)
        return
      }
      say(`keys under ${JSON.stringify(opts.prefix)} changed: restarting ${command[0]} (${opts.signal})`)
      restarting = true
      await stopChild(opts.signal)
      restarting = false
      if (interrupted !== undefined) {
        say(`${command[0]} stopped by ${interrupted} during its restart: not started again`)
        exitCode = 128 + (constants.signals[interrupted] ?? 0)
        finished.abort()
      }
      if (!finished.signal.aborted) start(env)
    })
    if (ctx.signal.aborted) await stopChild('SIGTERM')
  } finally {
    process.off('SIGINT', forward)
    process.off('SIGTERM', forward)
  }
  return exitCode
}
