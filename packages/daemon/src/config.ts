/**
 * murmurd's configuration: one schema, validated once at start. Every flag
 * can also come from `MURMUR_<FLAG>` in the environment and from a key of the
 * config file (config-file.ts): flags > environment > file > defaults.
 */
import { Command, Help, Option } from 'commander'
import { multiaddr } from '@multiformats/multiaddr'
import { STALE_MS, STUCK_MS } from '@murmur/core'
import { defaultDataDir, socketPathForDataDir, checkSocketPath, SocketPathError, type Env } from '@murmur/protocol'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseAllowFile, parsePeerId } from './allow-list.js'
import { applyConfigFile, findConfigFile, readConfigFile } from './config-file.js'
import { ConfigError } from './errors.js'
import { pingTimeout, positiveInteger, publishWindow, wholeNumber } from './config-numbers.js'
import { LOG_LEVELS } from './logger.js'
import { GROUP_NAME, resolveMembership } from './membership.js'
import { Setting, settingsOf, turnsOn } from './setting.js'
import { parseMetricsAddress, type MetricsAddress } from './metrics/address.js'
import { readSwarmKey } from './swarm-key.js'
import { ENOUGH_OPS, PUBLISH_WINDOW_MS } from './outbound.js'
import { PEER_LINKS, PEER_ROTATE_MS } from './peer-dialer.js'
import { STALL_MS } from './sync/take-floor.js'
import { PING_TIMEOUT_MS } from './connection-pings.js'
import { VERSION } from './version.js'
import type { LevelWithSilent } from 'pino'

export interface DaemonConfig {
  name: string
  dataDir: string
  group: string
  listen: string[]
  peers: string[]
  peerLinks: number
  peerRotateMs: number
  socket: string
  mdns: boolean
  dht: boolean
  durability: 'full' | 'normal'
  maxClockSkewMs: number
  antiEntropyIntervalMs: number
  antiEntropyMaxIntervalMs?: number
  tombstoneGraceMs: number
  tombstoneRetentionMs: number
  stuckMs: number
  pullStaleMs: number
  syncStallMs: number
  pingTimeoutMs: number
  historyVersions: number
  historyBytes: number
  publishWindowMs: number
  logLevel: LevelWithSilent
  /** The 32-byte key from `--swarm-key`; only peers holding it can connect. */
  swarmKey?: Uint8Array
  /** Peer IDs from `--allow` and `--allow-file`; when set, no other peer may connect. */
  allow?: string[]
  /** Where `--metrics` serves Prometheus metrics; off when absent. */
  metrics?: MetricsAddress
  /** A checked `--join` ticket, stored in the data dir when the node starts. */
  join?: string
  /** Serve circuit relay v2 to the group's members. */
  relay: boolean
}

/** Repeatable flags; from the environment, a comma- or space-separated list. */
function collect (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(/[\s,]+/).filter(v => v !== '')]
}

export function buildCommand (): Command {
  return new Command('murmurd')
    .description('murmur node: a full replica of a peer-to-peer replicated key-value map')
    .version(VERSION, '-V, --version')
    .addOption(new Setting('--config <file>', 'TOML config file whose keys are these flags\' names, under flags and environment (default: $XDG_CONFIG_HOME/murmur/<name>.toml, or ~/.config/murmur/<name>.toml, when it exists)', 'MURMUR_CONFIG', 'path'))
    .addOption(new Option('--print-config', 'print the effective configuration as TOML, each value with where it came from, and exit'))
    .addOption(new Setting('--name <name>', 'this node\'s name (required; letters, digits, . _ -)', 'MURMUR_NAME'))
    .addOption(new Setting('--data-dir <dir>', 'where the database, identity key and socket live (default: $XDG_DATA_HOME/murmur/<name>, or ~/.local/share/murmur/<name>)', 'MURMUR_DATA_DIR', 'path'))
    .addOption(new Setting('--group <group>', 'replication group; nodes replicate only within their group', 'MURMUR_GROUP').default('default', 'the group a ticket joined, else "default"'))
    .addOption(new Setting('--listen <multiaddr>', 'address to listen on, repeatable', 'MURMUR_LISTEN', 'list').argParser(collect))
    .addOption(new Setting('--peer <multiaddr>', 'peer to dial and keep connected, repeatable; /p2p/<id> is optional', 'MURMUR_PEER', 'list').argParser(collect))
    .addOption(new Setting('--socket <path>', 'RPC socket path (default: <data-dir>/murmurd.sock)', 'MURMUR_SOCKET', 'path'))
    .addOption(new Setting('--peer-links <n>', 'dial members from the peer book and discovery (mDNS, DHT), in random order, until this many of the connected peers are ones this node dialled (inbound links come on top; --peer addresses, relays and the member a ticket named are always dialled)', 'MURMUR_PEER_LINKS', 'count').default(String(PEER_LINKS)))
    .addOption(new Setting('--peer-rotate <ms>', 'mean time between swaps of one link this node dialled for a member it is not connected to, while it is at --peer-links; 0 never swaps', 'MURMUR_PEER_ROTATE', 'whole').default(String(PEER_ROTATE_MS)))
    .addOption(new Setting('--no-mdns', 'disable LAN discovery over mDNS', 'MURMUR_NO_MDNS'))
    .addOption(new Setting('--no-dht', 'disable Kademlia DHT discovery', 'MURMUR_NO_DHT'))
    .addOption(new Setting('--durability <mode>', 'full: fsync every commit; normal: faster, may lose the last commits on power loss', 'MURMUR_DURABILITY').choices(['full', 'normal']).default('full'))
    .addOption(new Setting('--max-clock-skew <ms>', 'hold remote ops stamped further than this ahead of our clock until it catches up', 'MURMUR_MAX_CLOCK_SKEW', 'count').default('60000'))
    .addOption(new Setting('--anti-entropy-interval <ms>', 'mean time between version-vector exchanges with a random peer while the group is busy; each exchange that finds nothing doubles it, up to --anti-entropy-max-interval, and any write, gap, new connection or peer holding more resets it', 'MURMUR_ANTI_ENTROPY_INTERVAL', 'count').default('5000'))
    .addOption(new Setting('--anti-entropy-max-interval <ms>', 'longest wait between two exchanges in a quiet group, whatever peers say: a write gossip lost reaches a member within it (default 12 intervals, at most 60000)', 'MURMUR_ANTI_ENTROPY_MAX_INTERVAL', 'count'))
    .addOption(new Setting('--tombstone-grace <ms>', 'collect a tombstone every member of the group holds once it is this old', 'MURMUR_TOMBSTONE_GRACE', 'count').default('300000'))
    .addOption(new Setting('--tombstone-retention <ms>', 'a member silent this long (no attestation, no write) no longer holds collection back; it catches up from a snapshot when it returns', 'MURMUR_TOMBSTONE_RETENTION', 'count').default('604800000'))
    .addOption(new Setting('--stuck-wait <ms>', 'a node behind what its peers collected, with no sign it was away, takes a snapshot anyway (deleting again what they collected) once it has stayed behind this long', 'MURMUR_STUCK_WAIT', 'count').default(String(STUCK_MS)))
    .addOption(new Setting('--pull-stale <ms>', 'a pull whose frames bring nothing new (ops this node holds, or none) for this long ends, so the next one asks from what it holds then, and a peer that trickles holds no pull open', 'MURMUR_PULL_STALE', 'count').default(String(STALE_MS)))
    .addOption(new Setting('--sync-stall <ms>', 'a sync stream whose peer sends nothing while awaited for this long fails, and so does a serve whose puller takes less than 64 KiB in it (as much a second in another wait); a pull\'s hello must also come whole within it', 'MURMUR_SYNC_STALL', 'count').default(String(STALL_MS)))
    .addOption(new Setting('--ping-timeout <ms>', 'a connection whose peer does not answer a ping within this long, while nothing arrives from it and its TCP acknowledges nothing more either (three times as long while a backlog waits to go to it), is closed (and redialled by the side that dialled it); each connection is pinged every half of it', 'MURMUR_PING_TIMEOUT', 'count').default(String(PING_TIMEOUT_MS)))
    .addOption(new Setting('--history-versions <n>', 'versions of each key kept for murmurctl history, the current one included', 'MURMUR_HISTORY_VERSIONS', 'count').default('16'))
    .addOption(new Setting('--history-bytes <bytes>', 'bytes of earlier values kept for history per key: the oldest go first', 'MURMUR_HISTORY_BYTES', 'count').default('1048576'))
    .addOption(new Setting('--publish-window <ms>', `own writes acknowledged within this long of the last gossip message wait for it to pass and go out together in one message (at once when ${ENOUGH_OPS} have gathered); widened up to 4 times once publishing each write alone would take over a quarter of the time between writes (many peers, busy cores), until it would take a tenth; 0 publishes each acknowledged batch at once`, 'MURMUR_PUBLISH_WINDOW', 'whole').default(String(PUBLISH_WINDOW_MS)))
    .addOption(new Setting('--join <ticket>', 'join the group of a ticket from murmurctl invite: its group, swarm key and peers are kept in the data dir, so later starts need no flag', 'MURMUR_JOIN'))
    .addOption(new Setting('--relay', 'serve as a circuit relay for this group\'s members (give it to a member others can reach); others behind NAT reserve a slot on it', 'MURMUR_RELAY').default(false))
    .addOption(new Setting('--swarm-key <file>', 'the group\'s swarm key file (murmurctl keygen makes one); only peers holding the same key can connect', 'MURMUR_SWARM_KEY', 'path'))
    .addOption(new Setting('--allow <peerId>', 'only this peer (and the others allowed) may connect, repeatable', 'MURMUR_ALLOW', 'list').argParser(collect))
    .addOption(new Setting('--allow-file <file>', 'only the peers listed in this file (one peer ID per line, # comments) may connect', 'MURMUR_ALLOW_FILE', 'path'))
    .addOption(new Setting('--metrics <[host:]port>', 'serve Prometheus metrics at http://<host:port>/metrics; a port alone is 127.0.0.1, any other host must be an IP address (0.0.0.0: every interface)', 'MURMUR_METRICS', 'address'))
    .addOption(new Setting('--log-level <level>', 'log level', 'MURMUR_LOG_LEVEL').choices(LOG_LEVELS).default('info'))
    .helpOption('-h, --help', 'show this help')
    .configureHelp({ optionDescription })
    .showSuggestionAfterError()
}

/** Commander's description, naming the variable as it would for an `.env()` option. */
function optionDescription (this: Help, option: Option): string {
  const text = Help.prototype.optionDescription.call(this, option)
  return option instanceof Setting ? `${text} (env: ${option.envName})` : text
}

/** A validated configuration, with where each setting's value came from. */
export interface LoadedConfig {
  config: DaemonConfig
  /** The config file read, if any. */
  file?: string
  /** `--flag`, `MURMUR_X`, `<file> line N` or `default`, by attribute name. */
  sources: Map<string, string>
  /** `--print-config` was given. */
  print: boolean
}

/**
 * Parses `argv` over `env` and the config file (flags > env > file >
 * defaults) and validates the result. `env` is the only environment read for
 * `MURMUR_*`, `XDG_*` and `HOME`, so a caller can pass its own.
 */
export function parseConfig (command: Command, argv: string[], env: Env): DaemonConfig {
  return loadConfig(command, argv, env).config
}

export function loadConfig (command: Command, argv: string[], env: Env): LoadedConfig {
  command.parse(argv, { from: 'user' })
  applyEnv(command, env)
  const raw = command.opts()
  const path = findConfigFile(raw.config as string | undefined, raw.name as string | undefined, env)
  const located = path === undefined ? new Map<string, string>() : applyConfigFile(command, readConfigFile(path))
  const sources = new Map<string, string>()
  for (const setting of settingsOf(command.options)) {
    const attribute = setting.attributeName()
    const source = command.getOptionValueSource(attribute)
    sources.set(attribute, source === 'cli' ? setting.long ?? attribute : source === 'env' ? setting.envName : located.get(attribute) ?? 'default')
  }
  try {
    const config = validateConfig(command.opts(), env, sources.get('group') !== 'default')
    const joined = config.join != null ? '--join' : 'the data dir (joined with a ticket)'
    if (sources.get('group') === 'default' && config.group !== 'default') sources.set('group', joined)
    if (sources.get('swarmKey') === 'default' && config.swarmKey != null) sources.set('swarmKey', joined)
    return { config, sources, print: raw.printConfig === true, ...(path !== undefined ? { file: path } : {}) }
  } catch (err) {
    throw err instanceof ConfigError ? locate(err, command, sources) : err
  }
}

/** Adds where a bad value came from (`MURMUR_X`, or the file and line) to an error naming its flag. */
function locate (err: ConfigError, command: Command, sources: Map<string, string>): ConfigError {
  const flag = /--[a-z-]+/.exec(err.message)?.[0]
  const setting = settingsOf(command.options).find(s => s.long === flag)
  const from = setting === undefined ? undefined : sources.get(setting.attributeName())
  if (setting === undefined || from === undefined || from === flag || from === 'default') return err
  return new ConfigError(`${err.message} (set by ${from === setting.envName ? from : `${setting.fileKey} in ${from}`})`)
}

/** Gives each setting not set by a flag its value from `env`, when the variable is set. */
function applyEnv (command: Command, env: Env): void {
  for (const option of settingsOf(command.options)) {
    const raw = env[option.envName]
    const key = option.attributeName()
    if (raw === undefined || command.getOptionValueSource(key) === 'cli') continue
    command.setOptionValueWithSource(key, envValue(option, raw), 'env')
  }
}

function envValue (option: Setting, raw: string): unknown {
  if (option.negate) return !turnsOn(option.envName, raw, 'to turn it off', 'to leave it on')
  if (option.isBoolean()) return turnsOn(option.envName, raw, 'to turn it on', 'to leave it off')
  if (option.argChoices != null && !option.argChoices.includes(raw)) {
    throw new ConfigError(`invalid ${option.envName} "${raw}": expected one of ${option.argChoices.join(', ')}`)
  }
  return option.parseArg != null ? option.parseArg(raw, undefined) : raw
}

/** Checks raw parsed options and fills in defaults; throws `ConfigError` naming the bad value. */
function validateConfig (raw: Record<string, unknown>, env: Env, explicitGroup: boolean): DaemonConfig {
  const name = raw.name as string | undefined
  if (name == null || name === '') throw new ConfigError('--name is required (or MURMUR_NAME), e.g. murmurd --name alice')
  if (!GROUP_NAME.test(name)) throw new ConfigError(`invalid --name "${name}": use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`)
  const group = raw.group as string
  if (!GROUP_NAME.test(group)) throw new ConfigError(`invalid --group "${group}": use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`)
  const listen = (raw.listen as string[] | undefined) ?? ['/ip4/0.0.0.0/tcp/0']
  if (listen.length === 0) throw new ConfigError('--listen lists no address (is MURMUR_LISTEN blank?); give one such as /ip4/0.0.0.0/tcp/4001, or unset it for the default')
  const peers = (raw.peer as string[] | undefined) ?? []
  for (const [flag, addrs] of [['--listen', listen], ['--peer', peers]] as const) {
    for (const addr of addrs) checkMultiaddr(flag, addr)
  }
  // blank is never the working directory: murmurd would take it over (chmod 0700, its files in it)
  const dataDir = resolve(raw.dataDir != null ? nonEmpty('--data-dir', 'MURMUR_DATA_DIR', raw.dataDir as string, 'give a directory, or unset it for the default') : defaultDataDir(name, env))
  const socket = raw.socket != null ? resolve(nonEmpty('--socket', 'MURMUR_SOCKET', raw.socket as string, 'give a path, or unset it for <data-dir>/murmurd.sock')) : socketPathForDataDir(dataDir)
  try {
    checkSocketPath(socket)
  } catch (err) {
    if (err instanceof SocketPathError) throw new ConfigError(err.message)
    throw err
  }
  const key = raw.swarmKey != null ? readSwarmKey(nonEmpty('--swarm-key', 'MURMUR_SWARM_KEY', raw.swarmKey as string)) : undefined
  const join = raw.join as string | undefined
  if (join?.trim() === '') throw new ConfigError('--join is empty (is MURMUR_JOIN blank?); give the ticket murmurctl invite printed')
  // the ticket is checked here, so a bad one stops murmurd (exit 2) before anything is written
  const membership = resolveMembership({ dataDir, ...(explicitGroup ? { group } : {}), swarmKey: key, join })
  return {
    name,
    dataDir,
    group: membership.group,
    listen,
    peers,
    socket,
    mdns: raw.mdns !== false,
    dht: raw.dht !== false,
    relay: raw.relay === true,
    durability: raw.durability as 'full' | 'normal',
    maxClockSkewMs: positiveInteger('--max-clock-skew', raw.maxClockSkew as string),
    ...antiEntropy(raw.antiEntropyInterval as string, raw.antiEntropyMaxInterval as string | undefined),
    tombstoneGraceMs: positiveInteger('--tombstone-grace', raw.tombstoneGrace as string),
    tombstoneRetentionMs: positiveInteger('--tombstone-retention', raw.tombstoneRetention as string),
    stuckMs: positiveInteger('--stuck-wait', raw.stuckWait as string),
    pullStaleMs: positiveInteger('--pull-stale', raw.pullStale as string),
    syncStallMs: positiveInteger('--sync-stall', raw.syncStall as string),
    pingTimeoutMs: pingTimeout(raw.pingTimeout as string),
    historyVersions: positiveInteger('--history-versions', raw.historyVersions as string),
    historyBytes: positiveInteger('--history-bytes', raw.historyBytes as string),
    publishWindowMs: publishWindow(raw.publishWindow as string),
    peerLinks: positiveInteger('--peer-links', raw.peerLinks as string),
    peerRotateMs: wholeNumber('--peer-rotate', raw.peerRotate as string),
    logLevel: raw.logLevel as LevelWithSilent,
    ...(membership.swarmKey != null ? { swarmKey: membership.swarmKey } : {}),
    ...(join != null ? { join } : {}),
    ...allowList(raw.allow as string[] | undefined, raw.allowFile as string | undefined),
    ...(raw.metrics != null ? { metrics: parseMetricsAddress('--metrics', raw.metrics as string) } : {})
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

/** A path set to nothing: a closed-group flag must not quietly leave the group open, nor a directory become the working one. */
function nonEmpty (flag: string, env: string, value: string, hint = 'give a file, or unset it to let any peer connect'): string {
  if (value.trim() === '') throw new ConfigError(`${flag} is empty (is ${env} blank?); ${hint}`)
  return value
}

function antiEntropy (interval: string, max?: string): Pick<DaemonConfig, 'antiEntropyIntervalMs' | 'antiEntropyMaxIntervalMs'> {
  const antiEntropyIntervalMs = positiveInteger('--anti-entropy-interval', interval)
  if (max == null) return { antiEntropyIntervalMs }
  const antiEntropyMaxIntervalMs = positiveInteger('--anti-entropy-max-interval', max)
  if (antiEntropyMaxIntervalMs < antiEntropyIntervalMs) throw new ConfigError(`invalid --anti-entropy-max-interval "${max}": shorter than --anti-entropy-interval (${antiEntropyIntervalMs} ms); give at least that`)
  return { antiEntropyIntervalMs, antiEntropyMaxIntervalMs }
}

function checkMultiaddr (flag: string, addr: string): void {
  try {
    multiaddr(addr)
  } catch (err) {
    throw new ConfigError(`invalid ${flag} "${addr}": not a multiaddr (${(err as Error).message}); expected e.g. /ip4/127.0.0.1/tcp/4001`)
  }
}
