/**
 * One murmurd setting: a flag that can also come from `MURMUR_<FLAG>` in the
 * environment and from a key in the config file. Commander's own `.env()`
 * always reads `process.env`, which would ignore the `env` given to `main()`,
 * so the layers are applied by config.ts and config-file.ts instead.
 */
import { Option } from 'commander'
import { ConfigError } from './errors.js'

/**
 * How a value is written in a config file, beyond a plain string: `path` is
 * resolved against the file's directory, `count` is a positive whole number
 * (a TOML integer or a string of digits), `whole` one that may be 0,
 * `address` a string or a port number,
 * `list` takes an array of strings,
 * and a `--no-x` flag's key is `x`, a boolean.
 */
export type SettingKind = 'text' | 'path' | 'count' | 'whole' | 'list' | 'address'

export class Setting extends Option {
  constructor (flags: string, description: string, readonly envName: string, readonly kind: SettingKind = 'text') {
    super(flags, description)
  }

  /** Its key in a config file: the long flag without `--` (`--no-mdns` is `mdns = false`). */
  get fileKey (): string {
    const long = this.long ?? ''
    return long.slice(this.negate ? 5 : 2)
  }
}

/** The settings of `options`, in the order the command declares them. */
export function settingsOf (options: readonly Option[]): Setting[] {
  return options.filter((option): option is Setting => option instanceof Setting)
}

const TRUE_WORDS = ['1', 'true', 'yes', 'on']
const FALSE_WORDS = ['0', 'false', 'no', 'off']

/**
 * Whether a boolean flag's variable says yes (for `--no-X`: turn X off).
 * Counting any set value as yes would make MURMUR_NO_MDNS=0 turn mDNS off,
 * so only these words count.
 */
export function turnsOn (name: string, raw: string, yes: string, no: string): boolean {
  const word = raw.toLowerCase()
  if (TRUE_WORDS.includes(word)) return true
  if (FALSE_WORDS.includes(word)) return false
  throw new ConfigError(`invalid ${name} "${raw}": expected ${TRUE_WORDS.join('/')} ${yes}, or ${FALSE_WORDS.join('/')} ${no}`)
}
