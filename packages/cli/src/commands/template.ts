/**
 * `murmurctl template --prefix p --template t --out f [--exec cmd] [--once]`
 * (after consul-template): renders a Liquid template (liquidjs) from the keys
 * under a prefix into a file, replaced whole (atomic-file.ts), again after
 * every burst of changes and after murmurd restarts, and runs `--exec` after
 * each change of the file. In the template:
 *
 * - `keys["db/port"]`: the value of `<prefix>db/port` (binary values base64, json as stored);
 * - `json["settings"].replicas`: a value that parses as JSON, as data
 *   (`JSON.parse`'s: numbers are doubles, so `keys` has the exact text);
 * - `entries`: every key, in key order: `{ key, name, value, type, version }`
 *   (`name` is the key without the prefix; `type` is text or binary).
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Socket } from 'node:net'
import { replaceFile } from '../atomic-file.js'
import { CommandError } from '../errors.js'
import { followPrefix } from '../follow.js'
import { stopGroup } from '../process-group.js'
import { stopOnProcessSignals } from './watch.js'
import type { CommandContext } from '../context.js'
import { typeOfEntry, valueText, type Entry } from '@murmur/protocol/client'

export interface TemplateOptions {
  prefix: string
  template: string
  out: string
  exec?: string
  execTimeout: number
  killTimeout: number
  once?: boolean
}

/**
 * The data a template sees. `keys` and `json` have no prototype: a key named
 * `__proto__` is then a key like any other, not the object's prototype, and
 * `constructor` or `toString` are there only when such keys are.
 */
export function templateData (entries: Entry[], prefix: string): Record<string, unknown> {
  const keys: Record<string, string> = Object.create(null)
  const json: Record<string, unknown> = Object.create(null)
  const list = entries.map(entry => {
    const name = entry.key.slice(prefix.length)
    const value = valueText(entry)
    keys[name] = value
    // parsed, so as doubles: `keys[name]` is the exact text (1e400, 12345678901234567891), `json[name]` what JSON.parse makes of it
    if (entry.encoding !== 'base64') {
      try { json[name] = JSON.parse(value) } catch {}
    }
    return { key: entry.key, name, value, type: typeOfEntry(entry), version: entry.version }
  })
  return { keys, json, entries: list, prefix }
}

export async function template (ctx: CommandContext, opts: TemplateOptions): Promise<void> {
  const { Liquid } = await import('liquidjs')
  const engine = new Liquid({ strictFilters: true })
  const source = resolve(opts.template)
  const out = resolve(opts.out)
  let text: string
  try {
    text = readFileSync(source, 'utf8')
  } catch (err) {
    throw new CommandError(`cannot read template ${source}: ${(err as Error).message.replace(/, \w+ '.*'$/, '')}`)
  }
  let parsed: ReturnType<typeof engine.parse>
  try {
    parsed = engine.parse(text, source)
  } catch (err) {
    throw new CommandError(`template ${source}: ${(err as Error).message}`)
  }
  const say = (line: string): void => { ctx.io.stderr.write(`murmurctl template: ${line}\n`) }
  const stop = stopOnProcessSignals()
  let renders = 0
  try {
    await followPrefix(ctx, { prefix: opts.prefix, once: opts.once, signal: AbortSignal.any([ctx.signal, stop.signal]), say }, async entries => {
      let content: string
      try {
        content = engine.renderSync(parsed, templateData(entries, opts.prefix)) as string
      } catch (err) {
        // a template that fails on some data leaves the file as it was
        if (opts.once === true) throw new CommandError(`template ${source}: ${(err as Error).message}`)
        say(`rendering failed, ${out} left as it was: ${(err as Error).message}`)
        return
      }
      let changed: boolean
      try {
        changed = replaceFile(out, content)
      } catch (err) {
        if (opts.once === true) throw new CommandError(`cannot write ${out}: ${(err as Error).message}`)
        say(`cannot write ${out}: ${(err as Error).message}`)
        return
      }
      renders++
      say(`${changed ? 'wrote' : 'unchanged'} ${out} (${entries.length} key${entries.length === 1 ? '' : 's'} under ${JSON.stringify(opts.prefix)})`)
      if (changed && opts.exec != null) await runCommand(opts.exec, opts, stop.signal, ctx, say)
    })
  } finally {
    stop.dispose()
  }
  if (renders === 0 && opts.once !== true) say('stopped before the first render')
}

/**
 * Runs `command` with /bin/sh, its output to our stderr; reports a failure
 * and goes on. After `execTimeout` its process group is sent SIGTERM, and
 * SIGKILL `killTimeout` later (see process-group.ts): renders wait for it,
 * and so does murmurctl's own stop (a reload cut short by it could leave the
 * service half done), so neither may wait for ever. It is over when the
 * shell exits: a process it left in the background may hold the output pipes
 * open for as long as it lives, and must neither hold back the next render
 * nor keep murmurctl running.
 */
async function runCommand (command: string, { execTimeout, killTimeout }: Pick<TemplateOptions, 'execTimeout' | 'killTimeout'>, stopping: AbortSignal, ctx: CommandContext, say: (line: string) => void): Promise<void> {
  await new Promise<void>(done => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    child.stdout.on('data', (d: Buffer) => ctx.io.stderr.write(d))
    child.stderr.on('data', (d: Buffer) => ctx.io.stderr.write(d))
    const timer = setTimeout(() => {
      say(`--exec still running after ${execTimeout} ms: sending SIGTERM to it and its children`)
      stopGroup(child, 'SIGTERM', killTimeout, () => { say(`--exec still running ${killTimeout} ms after SIGTERM: SIGKILL to it and its children`) })
    }, execTimeout)
    // a second SIGINT/SIGTERM forces murmurctl out at once (no handler is left for it), the command left as it is
    const onStop = (): void => { say(`stopping once --exec has ended (SIGTERM ${execTimeout} ms after its start, SIGKILL ${killTimeout} ms after that)`) }
    stopping.addEventListener('abort', onStop, { once: true })
    const over = (): void => {
      clearTimeout(timer)
      stopping.removeEventListener('abort', onStop)
      for (const pipe of [child.stdout, child.stderr]) (pipe as Socket).unref()
      done()
    }
    child.on('error', err => { say(`--exec failed to start: ${err.message}`); over() })
    child.on('exit', (code, signal) => {
      if (code !== 0) say(`--exec ${JSON.stringify(command)} ${signal != null ? `killed by ${signal}` : `exited ${code}`}`)
      over()
    })
  })
}
