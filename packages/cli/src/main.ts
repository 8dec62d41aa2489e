/**
 * murmurctl's entry point: `main(argv, io)` parses, runs one command and
 * returns the exit code. It never calls `process.exit`, so tests run it
 * in-process; the bin file sets `process.exitCode`.
 *
 * Each command's code is imported only when that command runs: a call pays
 * for loading what it uses and no more (keygen's node:crypto, watch, the
 * status formatter).
 */
import { readFileSync } from 'node:fs'
import { constants } from 'node:os'
import { Command, InvalidArgumentError } from 'commander'
import type { BackupOptions } from './commands/backup.js'
import type { ExecOptions } from './commands/exec.js'
import type { ExportOptions } from './commands/export.js'
import type { GetOptions } from './commands/get.js'
import type { HealthOptions } from './commands/health.js'
import type { InviteOptions } from './commands/invite.js'
import type { ListOptions } from './commands/list.js'
import type { PutOptions } from './commands/put.js'
import type { TemplateOptions } from './commands/template.js'
import type { WatchOptions } from './commands/watch.js'
import type { CommandContext } from './context.js'
import { DEFAULT_INVITE_MS, MAX_INVITE_MS, MAX_TTL_MS, NODE_NAME } from '@murmur/protocol/client'
import { ExitCode, formatUsageError, report } from './errors.js'
import { resolveIo, type CliIo } from './io.js'

export const DEFAULT_TIMEOUT_MS = 10_000

interface GlobalOptions {
  socket?: string
  dataDir?: string
  name?: string
  timeout: number
  json?: boolean
}

export async function main (argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const cli = resolveIo(io)
  // A closed stdout (`murmurctl watch | head -1`) stops the command instead of crashing it.
  const stop = new AbortController()
  const onOutputError = (): void => { stop.abort() }
  cli.stdout.on('error', onOutputError)
  try {
    const signal = cli.signal != null ? AbortSignal.any([stop.signal, cli.signal]) : stop.signal
    const outcome = { code: ExitCode.Ok as number }
    await program(cli, signal, outcome).parseAsync(putJsonAsType(argv), { from: 'user' })
    return outcome.code
  } catch (err) {
    return report(err, cli.stderr)
  } finally {
    cli.stdout.off('error', onOutputError)
    ignoreLateErrors(cli.stdout)
  }
}

const ignore = (): void => {}

/** An EPIPE can surface after `main` returns (`murmurctl --help | head -1`); nothing is left to write by then. */
function ignoreLateErrors (out: NodeJS.WritableStream): void {
  if (!out.listeners('error').includes(ignore)) out.on('error', ignore)
}

/** `outcome.code`: the exit code of a command that sets its own (exec passes on its child's). */
function program (io: CliIo, signal: AbortSignal, outcome: { code: number }): Command {
  const program = new Command('murmurctl')
    .description('Command-line client for a local murmurd (murmur\'s replicated key-value store)')
    .version(packageVersion())
    .exitOverride()
    .configureOutput({
      writeOut: text => io.stdout.write(text),
      writeErr: text => io.stderr.write(text),
      outputError: (text, write) => write(formatUsageError(text))
    })
    .configureHelp({ showGlobalOptions: true })
    .option('--socket <path>', 'the daemon\'s socket (default: found as below)', given)
    .option('--data-dir <dir>', 'the daemon\'s data dir; its socket is <dir>/murmurd.sock', given)
    .option('--name <name>', 'the daemon\'s name, for its default data dir', nodeName)
    .option('--timeout <ms>', 'how long to wait for each answer from murmurd', milliseconds, DEFAULT_TIMEOUT_MS)
    .option('--json', 'print machine-readable JSON')
    .addHelpText('after', HELP_FOOTER)
  const context = (command: Command): CommandContext => toContext(command.optsWithGlobals<GlobalOptions>(), io, signal)

  program.command('put').description('store a value')
    .argument('<key>').argument('<value>', 'the value, or - to read it from stdin')
    .option('--base64', 'the value is base64 for binary bytes (stored as binary)')
    .option('--type <type>', 'the value\'s type: text, json (checked: it must parse) or binary (given as base64)', valueType)
    .addHelpText('after', '\n`put --json` is `put --type json`; for JSON output, give --json before put.')
    .option('--if-version <origin/seq>', 'write only if the key is at this version on this node (get --meta shows it); else exit 5', versionArg)
    .option('--if-absent', 'write only if the key does not exist on this node; else exit 5')
    .option('--ttl <duration>', 'the value expires this long after the write, on every replica: 500ms, 30s, 10m, 24h (at most 365d)', parseTtl)
    .option('--keepalive', 'murmurd writes it again every third of --ttl (at least 2s) while it runs, so it vanishes within the TTL of the node stopping; a del or a put without --keepalive ends it')
    .action(async (key: string, value: string, opts: PutOptions, command: Command) => { await (await import('./commands/put.js')).put(context(command), key, value, opts) })
  program.command('get').description('print a value (binary values as raw bytes)')
    .argument('<key>')
    .option('--meta', 'also print the value\'s type and version')
    .option('--pretty', 'print a json value indented')
    .option('--conflicts', 'also print the values that lost to a write that had not seen them, still in history')
    .action(async (key: string, opts: GetOptions, command: Command) => { await (await import('./commands/get.js')).get(context(command), key, opts) })
  program.command('history').description('print the versions of a key this node holds, newest first: who wrote each and when, and the conflicts')
    .argument('<key>')
    .option('--limit <n>', 'print at most n versions', positiveInteger)
    .action(async (key: string, opts: { limit?: number }, command: Command) => { await (await import('./commands/history.js')).history(context(command), key, opts) })
  program.command('revert').description('write a version of a key that history lists (its value and type; a delete deletes) as a new write')
    .argument('<key>').argument('<origin/seq>', 'the version, as history prints it', versionArg)
    .action(async (key: string, version: { origin: string, seq: number }, _opts: unknown, command: Command) => { await (await import('./commands/history.js')).revert(context(command), key, version) })
  program.command('del').description('delete a key')
    .argument('<key>')
    .option('--if-version <origin/seq>', 'delete only if the key is at this version on this node; else exit 5', versionArg)
    .action(async (key: string, opts: Pick<PutOptions, 'ifVersion'>, command: Command) => { await (await import('./commands/del.js')).del(context(command), key, opts) })
  program.command('list').description('print `key = value` for every key, in key order')
    .option('--prefix <prefix>', 'only keys starting with this')
    .option('--limit <n>', 'print at most n entries', positiveInteger)
    .action(async (opts: ListOptions, command: Command) => { await (await import('./commands/list.js')).list(context(command), opts) })
  program.command('watch').description('print changes as they happen, until Ctrl-C; follows murmurd across restarts without missing a change')
    .option('--prefix <prefix>', 'only keys starting with this (repeatable: any of them)', (p: string, all: string[] = []) => [...all, p])
    .option('--since <cursor>', 'first replay what changed after this cursor (from an event of watch --json)', nonNegativeInteger)
    .action(async (opts: WatchOptions, command: Command) => { await (await import('./commands/watch.js')).watch(context(command), opts) })
  program.command('peers').description('list connected peers')
    .action(async (_opts: unknown, command: Command) => { await (await import('./commands/node.js')).peers(context(command)) })
  program.command('connect').description('dial a peer and print its peer id')
    .argument('<multiaddr>')
    .action(async (addr: string, _opts: unknown, command: Command) => { await (await import('./commands/node.js')).connect(context(command), addr) })
  program.command('status').description('summarise the node')
    .action(async (_opts: unknown, command: Command) => { await (await import('./commands/node.js')).status(context(command)) })
  program.command('backup').description('write a consistent copy of the node\'s database to a new file (a progress bar on a terminal)')
    .argument('<file>', 'where to write it; it must not exist')
    .option('--force', 'replace the file if it exists')
    .action(async (file: string, opts: BackupOptions, command: Command) => { await (await import('./commands/backup.js')).backup(context(command), file, opts) })
  program.command('export').description('print every key as one JSON object a line (NDJSON): key, type (text, json or binary: base64), value, version, expires (with a TTL)')
    .option('--prefix <prefix>', 'only keys starting with this')
    .action(async (opts: ExportOptions, command: Command) => { await (await import('./commands/export.js')).exportKeys(context(command), opts) })
  program.command('import').description('write the keys of an export, in batches; every line is checked first, so bad input writes nothing')
    .argument('<file>', 'an export (NDJSON), or - for stdin')
    .action(async (file: string, _opts: unknown, command: Command) => { await (await import('./commands/import.js')).importKeys(context(command), file) })
  program.command('health').description('exit 0 only if murmurd answers, its database takes a write and (--peers) enough members are connected: for probes')
    .option('--peers <n>', 'also require at least n connected group members', nonNegativeInteger)
    .action(async (opts: HealthOptions, command: Command) => { await (await import('./commands/health.js')).health(context(command), opts) })
  program.command('version').description('print this client\'s version, and the daemon\'s with the protocols it speaks')
    .action(async (_opts: unknown, command: Command) => { await (await import('./commands/health.js')).version(context(command), packageVersion()) })
  program.command('template').description('render a Liquid template from the keys under a prefix into a file, again on every change (after consul-template)')
    .requiredOption('--prefix <prefix>', 'the keys the template sees')
    .requiredOption('--template <file>', 'a Liquid template: keys["name"], json["name"], entries')
    .requiredOption('--out <file>', 'the file to write (replaced whole, keeping its mode)')
    .option('--exec <command>', 'run this (with /bin/sh) after each change of the file')
    .option('--exec-timeout <ms>', 'SIGTERM the command and its children after this long', milliseconds, 30_000)
    .option('--kill-timeout <ms>', 'SIGKILL them if the command has not exited this long after that SIGTERM', milliseconds, 10_000)
    .option('--once', 'render once (and run --exec if the file changed), then exit')
    .action(async (opts: TemplateOptions, command: Command) => { await (await import('./commands/template.js')).template(context(command), opts) })
  program.command('exec').description('run a command with the keys under a prefix as environment variables, restarted when they change (after envconsul)')
    .requiredOption('--prefix <prefix>', 'the keys to pass: app/db/port under app/ becomes DB_PORT')
    .option('--signal <name>', 'how to stop the command before a restart', signalName, 'SIGTERM')
    .option('--kill-timeout <ms>', 'SIGKILL it if it has not exited this long after --signal', milliseconds, 10_000)
    .argument('<command...>', 'the command and its arguments (after --)')
    .action(async (words: string[], opts: ExecOptions, command: Command) => { outcome.code = await (await import('./commands/exec.js')).exec(context(command), words, opts) })
  program.command('invite').description('print a ticket that joins a new node to this group (murmurd --join); for a closed group it is a secret')
    .option('--expires <duration>', 'how long the ticket is valid: 30m, 24h, 7d (at most 365d)', parseDuration, DEFAULT_INVITE_MS)
    .action(async (opts: InviteOptions, command: Command) => { await (await import('./commands/invite.js')).invite(context(command), opts) })
  program.command('keygen').description('write a new swarm key for a closed group (murmurd --swarm-key); needs no daemon')
    .argument('[file]', 'where to write it: a new file, made with mode 0600; - or none for stdout')
    .action(async (file: string | undefined, _opts: unknown, command: Command) => { (await import('./commands/keygen.js')).keygen(context(command), file) })
  const schema = program.command('schema').description('JSON Schemas that puts under a prefix must match (kept at the key _schema/<prefix>); a put that does not match exits 6')
  schema.command('set').description('store the schema for the keys under <prefix>; refused (exit 6) unless it compiles')
    .argument('<prefix>').argument('<file>', 'a JSON Schema file, or - for stdin')
    .action(async (prefix: string, file: string, _opts: unknown, command: Command) => { await (await import('./commands/schema.js')).setSchema(context(command), prefix, file) })
  schema.command('get').description('print the schema for <prefix>').argument('<prefix>')
    .action(async (prefix: string, _opts: unknown, command: Command) => { await (await import('./commands/schema.js')).getSchema(context(command), prefix) })
  schema.command('list').description('print the prefixes that have a schema')
    .action(async (_opts: unknown, command: Command) => { await (await import('./commands/schema.js')).listSchemas(context(command)) })
  schema.command('del').description('delete the schema for <prefix>').argument('<prefix>')
    .action(async (prefix: string, _opts: unknown, command: Command) => { await (await import('./commands/schema.js')).delSchema(context(command), prefix) })
  return program
}

function toContext (opts: GlobalOptions, io: CliIo, signal: AbortSignal): CommandContext {
  return {
    io,
    json: opts.json === true,
    signal,
    session: {
      locator: { socket: opts.socket, dataDir: opts.dataDir, name: opts.name },
      env: io.env,
      timeoutMs: opts.timeout
    }
  }
}

/** Options of murmurctl itself that take a value (so the command is the first word that is neither). */
const GLOBAL_WITH_VALUE = new Set(['--socket', '--data-dir', '--name', '--timeout'])

/**
 * `put --json` means a JSON value (`--type json`), while `--json` anywhere
 * else asks for JSON output: commander would take every `--json` as the
 * global one, so those after `put` are renamed before it parses.
 */
export function putJsonAsType (argv: string[]): string[] {
  let i = 0
  while (i < argv.length && (argv[i] as string).startsWith('-') && argv[i] !== '--') i += GLOBAL_WITH_VALUE.has(argv[i] as string) ? 2 : 1
  if (argv[i] !== 'put') return argv
  const end = argv.indexOf('--', i)
  return argv.map((word, j) => j > i && (end === -1 || j < end) && word === '--json' ? '--type=json' : word)
}

/** A locator given empty (`--socket "$UNSET"`) is a mistake, not a request for the default. */
function given (text: string): string {
  if (text.trim() === '') throw new InvalidArgumentError('it is empty; give a path, or leave the option out to find murmurd as below')
  return text
}

function nodeName (text: string): string {
  if (!NODE_NAME.test(text)) throw new InvalidArgumentError('use 1-64 letters, digits, \'.\', \'_\' or \'-\', starting with a letter or digit, as murmurd --name does')
  return text
}

function valueType (text: string): 'text' | 'json' | 'binary' {
  if (text !== 'text' && text !== 'json' && text !== 'binary') throw new InvalidArgumentError('expected text, json or binary')
  return text
}

/** `<origin>/<seq>`: a version as `get --meta` names it. */
function versionArg (text: string): { origin: string, seq: number } {
  const match = /^([^/\s]+)\/(\d+)$/.exec(text)
  const seq = Number(match?.[2])
  if (match == null || !Number.isSafeInteger(seq) || seq < 1) throw new InvalidArgumentError('expected <origin>/<seq>, as get --meta prints it')
  return { origin: match[1] as string, seq }
}

function positiveInteger (text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer')
  return n
}

/** The longest a Node timer waits; past it, setTimeout fires at once. */
const MAX_TIMER_MS = 2_147_483_647

function milliseconds (text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_TIMER_MS) throw new InvalidArgumentError(`expected a positive integer of ms, at most ${MAX_TIMER_MS} (about 24.8 days)`)
  return Number(text)
}

function signalName (text: string): NodeJS.Signals {
  const name = text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`
  if (!Object.hasOwn(constants.signals, name)) throw new InvalidArgumentError('expected a signal name such as SIGTERM or HUP')
  return name as NodeJS.Signals
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `500ms`, `90s`, `30m`, `24h`, `7d` in ms; NaN for anything else. */
function durationMs (text: string): number {
  const match = /^(\d+)(ms|[smhd])$/.exec(text)
  return match == null ? NaN : Number(match[1]) * (UNITS[match[2] as string] as number)
}

/** An invite's validity: at least 1 s, at most a year. */
function parseDuration (text: string): number {
  const ms = durationMs(text)
  if (!Number.isSafeInteger(ms) || ms < 1_000 || ms > MAX_INVITE_MS || text.endsWith('ms')) throw new InvalidArgumentError('expected a duration such as 30m, 24h or 7d (1s to 365d)')
  return ms
}

/** A TTL: at least 1 ms, at most a year. */
function parseTtl (text: string): number {
  const ms = durationMs(text)
  if (!Number.isSafeInteger(ms) || ms < 1 || ms > MAX_TTL_MS) throw new InvalidArgumentError('expected a TTL such as 500ms, 30s, 10m or 24h (1ms to 365d)')
  return ms
}

function nonNegativeInteger (text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a whole number')
  return n
}

function packageVersion (): string {
  // dist/src/main.js → packages/cli/package.json
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

const HELP_FOOTER = `
The socket is found from --socket, --data-dir, --name, then $MURMUR_SOCKET,
$MURMUR_DATA_DIR, $MURMUR_NAME, then the single daemon under the default data
root ($XDG_DATA_HOME/murmur or ~/.local/share/murmur).

Exit codes: 0 ok, 1 the daemon answered with an error (or keygen could not
write its file), 2 usage, 3 daemon unreachable or not answering, 4 key not
found (for revert: no such version here), 5 a conditional write's condition failed (nothing was written),
6 a schema refused the write or does not compile (nothing was written).`
