/**
 * murmurd's config file: TOML whose keys are the flags' long names
 * (`data-dir = "/srv/murmur/alice"`, `peer = ["/ip4/10.0.0.2/tcp/4001"]`,
 * `mdns = false`, `anti-entropy-interval = 5000`). It sits under the
 * environment and the flags: a value set by either is not taken from it.
 * Unknown keys and values of the wrong type are errors that name the key and
 * its line; relative paths are relative to the file.
 */
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { TomlError, parse } from 'smol-toml'
import { ConfigError } from './errors.js'
import { settingsOf, type Setting } from './setting.js'
import type { Command } from 'commander'
import type { Env } from '@murmur/protocol'

export interface ConfigFile {
  path: string
  text: string
  values: Record<string, unknown>
}

/** `$XDG_CONFIG_HOME/murmur/<name>.toml`, or `~/.config/murmur/<name>.toml`. */
export function defaultConfigPath (name: string, env: Env): string {
  const xdg = env.XDG_CONFIG_HOME
  const base = xdg != null && xdg !== '' ? xdg : join(env.HOME ?? homedir(), '.config')
  return join(base, 'murmur', `${name}.toml`)
}

/** The default file when it exists (undefined otherwise); `explicit` must exist. */
export function findConfigFile (explicit: string | undefined, name: string | undefined, env: Env): string | undefined {
  if (explicit !== undefined) {
    if (explicit.trim() === '') throw new ConfigError('--config is empty (is MURMUR_CONFIG blank?); give a file, or unset it')
    return resolve(explicit)
  }
  if (name === undefined || name === '') return undefined
  const path = defaultConfigPath(name, env)
  return existsSync(path) ? path : undefined
}

/** Reads and parses `path`; throws `ConfigError` with the line and column of a syntax error. */
export function readConfigFile (path: string): ConfigFile {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message.replace(/, \w+ '.*'$/, '')}`)
  }
  try {
    return { path, text, values: parse(text) }
  } catch (err) {
    if (!(err instanceof TomlError)) throw err
    const reason = err.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? 'invalid TOML'
    throw new ConfigError(`${path} line ${err.line} column ${err.column}: ${reason} (not valid TOML)`)
  }
}

/**
 * Gives each setting that neither a flag nor the environment set its value
 * from `file`. Returns where each taken value was written (`<file> line N`),
 * by attribute name.
 */
export function applyConfigFile (command: Command, file: ConfigFile): Map<string, string> {
  const settings = new Map(settingsOf(command.options).filter(s => s.fileKey !== 'config').map(s => [s.fileKey, s]))
  const located = new Map<string, string>()
  for (const [key, value] of Object.entries(file.values)) {
    const at = `${file.path} line ${lineOf(file.text, key) ?? '?'}`
    const setting = settings.get(key)
    if (key === 'config') throw new ConfigError(`${at}: "config" cannot be set inside a config file; give --config or MURMUR_CONFIG`)
    if (setting === undefined) throw new ConfigError(`${at}: unknown key "${key}"${suggest(key, [...settings.keys()])}; the keys are the flags of murmurd --help without their dashes`)
    const attribute = setting.attributeName()
    if (command.getOptionValueSource(attribute) === 'cli' || command.getOptionValueSource(attribute) === 'env') continue
    command.setOptionValueWithSource(attribute, fileValue(setting, value, `${at}: ${key}`, dirname(file.path)), 'config')
    located.set(attribute, at)
  }
  return located
}

/** A file value as the flag would have given it; throws `ConfigError` prefixed with `where` otherwise. */
function fileValue (setting: Setting, value: unknown, where: string, base: string): unknown {
  if (setting.negate || setting.isBoolean()) {
    if (typeof value !== 'boolean') throw new ConfigError(`${where} must be true or false, not ${describe(value)}`)
    return value
  }
  if (setting.kind === 'list') {
    const items: unknown = typeof value === 'string' ? [value] : value
    const bad = Array.isArray(items) ? items.find(v => typeof v !== 'string' || v.trim() === '') : value
    if (bad !== undefined) {
      const example = setting.fileKey === 'allow' ? '12D3KooW…' : '/ip4/10.0.0.2/tcp/4001'
      throw new ConfigError(`${where} must be a list of non-empty strings, e.g. ["${example}"], ${Array.isArray(items) ? 'but holds ' : 'not '}${describe(bad)}`)
    }
    return items
  }
  if (setting.kind === 'count' || setting.kind === 'whole') {
    const least = setting.kind === 'count' ? 1 : 0
    if (typeof value === 'number' ? !Number.isSafeInteger(value) || value < least : typeof value !== 'string') {
      throw new ConfigError(`${where} must be a ${least === 1 ? 'positive ' : ''}whole number, not ${describe(value)}`)
    }
    return String(value)
  }
  if (setting.kind === 'address' && typeof value === 'number' && Number.isSafeInteger(value)) return String(value)
  if (typeof value !== 'string') throw new ConfigError(`${where} must be a string, not ${describe(value)}`)
  if (setting.argChoices != null && !setting.argChoices.includes(value)) {
    throw new ConfigError(`${where} "${value}": expected one of ${setting.argChoices.join(', ')}`)
  }
  return setting.kind === 'path' && value.trim() !== '' ? resolve(base, value) : value
}

function describe (value: unknown): string {
  if (Array.isArray(value)) return 'a list'
  if (value instanceof Date) return 'a date'
  if (value !== null && typeof value === 'object') return 'a table'
  return `${typeof value} ${JSON.stringify(value)}`
}

/** The line (from 1) where top-level `key` is set: `key =`, `"key" =`, `key.x =` or `[key]`. */
export function lineOf (text: string, key: string): number | undefined {
  const name = `(?:${escape(key)}|"${escape(key)}"|'${escape(key)}')`
  const pattern = new RegExp(`^\\s*(?:${name}\\s*[=.]|\\[\\[?\\s*${name}\\s*[\\].])`)
  const index = text.split(/\r?\n/).findIndex(line => pattern.test(line))
  return index < 0 ? undefined : index + 1
}

function escape (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** `(did you mean "peer"?)` for a key within two edits of a known one. */
function suggest (key: string, known: string[]): string {
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of known) {
    const d = distance(key, candidate)
    if (d < bestDistance) [best, bestDistance] = [candidate, d]
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`
}

function distance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((previous[j] as number) + 1, (row[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = row
  }
  return previous[b.length] as number
}
