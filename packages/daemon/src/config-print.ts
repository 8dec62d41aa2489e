/**
 * `murmurd --print-config`: the effective configuration as a TOML file murmurd
 * would read back, each value followed by where it came from. The swarm key
 * appears only as its file's path, never its bytes.
 */
import { stringify } from 'smol-toml'
import { join, resolve } from 'node:path'
import { SWARM_KEY_FILE } from './membership.js'
import { settingsOf } from './setting.js'
import type { Command } from 'commander'
import type { LoadedConfig } from './config.js'

/** What `config` holds for a setting, by its file key, where validation derived or resolved the value. */
function derived (loaded: LoadedConfig): Record<string, unknown> {
  const { config } = loaded
  const joined = loaded.sources.get('group') !== 'default' && loaded.sources.get('swarmKey') === loaded.sources.get('group')
  return {
    'data-dir': config.dataDir,
    socket: config.socket,
    listen: config.listen,
    peer: config.peers,
    group: config.group,
    // a key from a ticket lives in the data dir (once the node has started)
    ...(joined && config.swarmKey != null ? { 'swarm-key': join(config.dataDir, SWARM_KEY_FILE) } : {})
  }
}

export function formatConfig (command: Command, loaded: LoadedConfig): string {
  const raw = command.opts()
  const fromConfig = derived(loaded)
  const lines = [
    '# murmurd: effective configuration (flags > MURMUR_* environment > config file > defaults)',
    `# config file: ${loaded.file ?? 'none'}`
  ]
  for (const setting of settingsOf(command.options)) {
    const key = setting.fileKey
    if (key === 'config') continue
    const attribute = setting.attributeName()
    const value = key in fromConfig ? fromConfig[key] : raw[attribute]
    const source = loaded.sources.get(attribute) ?? 'default'
    if (key === 'join' && value !== undefined) {
      // a ticket may hold the group's key: never printed, and a comment, so the output still reads back
      lines.push(`# join = <a ticket, not printed>  # ${source}`)
      continue
    }
    if (value === undefined) {
      lines.push(`# ${key} is not set`)
      continue
    }
    // a path from a flag or variable is relative to the working directory; read back, the file's directory would be its base
    const typed = setting.kind === 'count' || setting.kind === 'whole' ? Number(value) : setting.kind === 'path' ? resolve(value as string) : value
    const note = key === 'swarm-key' ? `${source}; the key itself is never printed` : source
    lines.push(`${stringify({ [key]: typed }).trimEnd()}  # ${note}`)
  }
  return lines.join('\n') + '\n'
}
