/**
 * murmurd's configuration: one schema, validated once at start. Every flag
 * can also come from `MURMUR_<FLAG>` in the environment; flags win.
 */
import { Command, Option } from 'commander'
import { multiaddr } from '@multiformats/multiaddr'
import { defaultDataDir, socketPathForDataDir, checkSocketPath, SocketPathError } from '@murmur/protocol'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseAllowFile, parsePeerId } from './allow-list.js'
import { ConfigError } from './errors.js'
import { LOG_LEVELS } from './logger.js'
import { readSwarmKey } from './swarm-key.js'
import { VERSION } from './version.js'
import type { LevelWithSilent } from 'pino'

export interface DaemonConfig {
  name: string
  dataDir: string
  group: string
  listen: string[]
  peers: string[]
  socket: string
  mdns: boolean
  dht: boolean
  durability: 'full' | 'normal'
  maxClockSkewMs: number
  antiEntropyIntervalMs: number
  tombstoneGraceMs: number
  tombstoneRetentionMs: number
  logLevel: LevelWithSilent
  /** The 32-byte key from `--swarm-key`; only peers holding it can connect. */
  swarmKey?: Uint8Array
  /** Peer IDs from `--allow` and `--allow-file`; when set, no other peer may connect. */
  allow?: string[]
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** Repeatable flags; from the environment, a comma- or space-separated list. */
function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(/[\s,]+/).filter(v => v !== '')]
}

export function buildCommand (): Command {
  return new Command('murmurd')
    .description('murmur node: a full replica of a peer-to-peer replicated key-value map')
    .version(VERSION, '-V, --version')
    .addOption(new Option('--name <name>', 'this node\'s name (required; letters, digits, . _ -)').env('MURMUR_NAME'))
    .addOption(new Option('--data-dir <dir>', 'where the database, identity key and socket live (default: $XDG_DATA_HOME/murmur/<name>, or ~/.local/share/murmur/<name>)').env('MURMUR_DATA_DIR'))
    .addOption(new Option('--group <group>', 'replication group; nodes replicate only within their group').env('MURMUR_GROUP').default('default'))
    .addOption(new Option('--listen <multiaddr>', 'address to listen on, repeatable').env('MURMUR_LISTEN').argParser(collect))
    .addOption(new Option('--peer <multiaddr>', 'peer to dial and keep connected, repeatable; /p2p/<id> is optional').env('MURMUR_PEER').argParser(collect))
    .addOption(new Option('--socket <path>', 'RPC socket path (default: <data-dir>/murmurd.sock)').env('MURMUR_SOCKET'))
    .addOption(new Option('--no-mdns', 'disable LAN discovery over mDNS').env('MURMUR_NO_MDNS'))
    .addOption(new Option('--no-dht', 'disable Kademlia DHT discovery').env('MURMUR_NO_DHT'))
    .addOption(new Option('--durability <mode>', 'full: fsync every commit; normal: faster, may lose the last commits on power loss').env('MURMUR_DURABILITY').choices(['full', 'normal']).default('full'))
    .addOption(new Option('--max-clock-skew <ms>', 'hold remote ops stamped further than this ahead of our clock until it catches up').env('MURMUR_MAX_CLOCK_SKEW').default('60000'))
    .addOption(new Option('--anti-entropy-interval <ms>', 'mean time between version-vector exchanges with a random peer').env('MURMUR_ANTI_ENTROPY_INTERVAL').default('5000'))
    .addOption(new Option('--tombstone-grace <ms>', 'collect a tombstone every known peer has seen once it is this old').env('MURMUR_TOMBSTONE_GRACE').default('300000'))
    .addOption(new Option('--tombstone-retention <ms>', 'collect every tombstone once it is this old, seen by all peers or not (a node offline longer resyncs from a snapshot)').env('MURMUR_TOMBSTONE_RETENTION').default('604800000'))
    .addOption(new Option('--swarm-key <file>', 'the group\'s swarm key file (murmurctl keygen makes one); only peers holding the same key can connect').env('MURMUR_SWARM_KEY'))
    .addOption(new Option('--allow <peerId>', 'only this peer (and the others allowed) may connect, repeatable').env('MURMUR_ALLOW').argParser(collect))
    .addOption(new Option('--allow-file <file>', 'only the peers listed in this file (one peer ID per line, # comments) may connect').env('MURMUR_ALLOW_FILE'))
    .addOption(new Option('--log-level <level>', 'log level').env('MURMUR_LOG_LEVEL').choices(LOG_LEVELS).default('info'))
    .helpOption('-h, --help', 'show this help')
    .showSuggestionAfterError()
}

/** Checks raw parsed options and fills in defaults; throws `ConfigError` naming the bad value. */
export function validateConfig (raw: Record<string, unknown>, env: Record<string, string | undefined> = process.env): DaemonConfig {
  const name = raw.name as string | undefined
  if (name == null || name === '') throw new ConfigError('--name is required (or MURMUR_NAME), e.g. murmurd --name alice')
  if (!NAME.test(name)) throw new ConfigError(`invalid --name "${name}": use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`)
  const group = raw.group as string
  if (!NAME.test(group)) throw new ConfigError(`invalid --group "${group}": use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`)
  const listen = (raw.listen as string[] | undefined) ?? ['/ip4/0.0.0.0/tcp/0']
  const peers = (raw.peer as string[] | undefined) ?? []
  for (const [flag, addrs] of [['--listen', listen], ['--peer', peers]] as const) {
    for (const addr of addrs) checkMultiaddr(flag, addr)
  }
  const dataDir = resolve((raw.dataDir as string | undefined) ?? defaultDataDir(name, env))
  const socket = raw.socket != null ? resolve(raw.socket as string) : socketPathForDataDir(dataDir)
  try {
    checkSocketPath(socket)
  } catch (err) {
    if (err instanceof SocketPathError) throw new ConfigError(err.message)
    throw err
  }
  return {
    name,
    dataDir,
    group,
    listen,
    peers,
    socket,
    mdns: raw.mdns !== false,
    dht: raw.dht !== false,
    durability: raw.durability as 'full' | 'normal',
    maxClockSkewMs: positiveInteger('--max-clock-skew', raw.maxClockSkew as string),
    antiEntropyIntervalMs: positiveInteger('--anti-entropy-interval', raw.antiEntropyInterval as string),
    tombstoneGraceMs: positiveInteger('--tombstone-grace', raw.tombstoneGrace as string),
    tombstoneRetentionMs: positiveInteger('--tombstone-retention', raw.tombstoneRetention as string),
    logLevel: raw.logLevel as LevelWithSilent,
    ...(raw.swarmKey != null ? { swarmKey: readSwarmKey(nonEmpty('--swarm-key', 'MURMUR_SWARM_KEY', raw.swarmKey as string)) } : {}),
    ...allowList(raw.allow as string[] | undefined, raw.allowFile as string | undefined)
  }
}

/**
 * `--allow` and `--allow-file` together; neither means any peer may connect.
 * Given but empty (a blank MURMUR_ALLOW, say) is an error, never an open node.
 */
function allowList (ids?: string[], file?: string): { allow?: string[] } {
  if (ids?.length === 0) throw new ConfigError('--allow lists no peer IDs (is MURMUR_ALLOW blank?); give at least one, or unset it to let any peer connect')
  const allow = (ids ?? []).map(id => parsePeerId(id, '--allow'))
  if (file != null) {
    nonEmpty('--allow-file', 'MURMUR_ALLOW_FILE', file)
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      throw new ConfigError(`cannot read --allow-file ${file}: ${(err as Error).message.replace(/, \w+ '.*'$/, '')}`)
    }
    const listed = parseAllowFile(text, file)
    if (listed.length === 0) throw new ConfigError(`--allow-file ${file} lists no peer IDs; add one per line, or drop --allow-file to let any peer connect`)
    allow.push(...listed)
  }
  return allow.length > 0 ? { allow: [...new Set(allow)] } : {}
}

/** A closed-group flag set to nothing must not quietly leave the group open. */
function nonEmpty (flag: string, env: string, value: string): string {
  if (value.trim() === '') throw new ConfigError(`${flag} is empty (is ${env} blank?); give a file, or unset it to let any peer connect`)
  return value
}

function positiveInteger (flag: string, value: string): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`invalid ${flag} "${value}": expected a positive whole number`)
  return n
}

function checkMultiaddr (flag: string, addr: string): void {
  try {
    multiaddr(addr)
  } catch (err) {
    throw new ConfigError(`invalid ${flag} "${addr}": not a multiaddr (${(err as Error).message}); expected e.g. /ip4/127.0.0.1/tcp/4001`)
  }
}
