/**
 * murmurd's entry: parse and validate the configuration, start the node and
 * its RPC socket, print how to reach it, and stop cleanly on SIGINT/SIGTERM
 * (a second signal forces the exit).
 */
import './polyfill.js'
import { CommanderError } from 'commander'
import { buildCommand, loadConfig, type DaemonConfig } from './config.js'
import { formatConfig } from './config-print.js'
import { ConfigError, DataDirError } from './errors.js'
import { createLogger } from './logger.js'
import { isLoopbackHost } from './metrics/address.js'
import { MetricsListenError, MetricsServer } from './metrics/server.js'
import { Murmur } from './murmur.js'
import { RpcServer } from './rpc/server.js'
import { sdNotify } from './sd-notify.js'
import { stopEach } from './stop-each.js'
import { VERSION } from './version.js'
import type { Logger } from 'pino'

export interface MainIO {
  stdout: (text: string) => void
  stderr: (text: string) => void
  env: Record<string, string | undefined>
  /** Immediate exit for a second signal. */
  exit: (code: number) => void
}

const defaultIO: MainIO = {
  stdout: text => process.stdout.write(text),
  stderr: text => process.stderr.write(text),
  env: process.env,
  exit: code => process.exit(code)
}

/** Runs the daemon until it is signalled; resolves to the exit code. */
export async function main (argv: string[], io: MainIO = defaultIO): Promise<number> {
  let config: DaemonConfig
  try {
    const command = buildCommand()
      .exitOverride()
      .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    const loaded = loadConfig(command, argv, io.env)
    if (loaded.print) {
      io.stdout(formatConfig(command, loaded))
      return 0
    }
    config = loaded.config
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2
    if (err instanceof ConfigError) {
      io.stderr(`murmurd: ${err.message}\n`)
      return 2
    }
    throw err
  }
  const log = await createLogger(config.logLevel, { name: config.name })
  let node: Murmur
  try {
    node = new Murmur({ ...config, metrics: config.metrics != null, logger: log })
  } catch (err) {
    if (!(err instanceof DataDirError)) throw err
    io.stderr(`murmurd: ${err.message}\n`)
    return 1
  }
  const rpc = new RpcServer(node, { path: config.socket, log: log.child({ component: 'rpc' }) })
  const metrics = node.metrics != null && config.metrics != null ? new MetricsServer(node.metrics, config.metrics, log.child({ component: 'metrics' })) : undefined
  const stopAll = async (): Promise<void> => { await stopEach([async () => await metrics?.close(), async () => { await rpc.close() }, async () => { await node.stop() }]) }
  try {
    // first: a metrics port in use fails the start before the node locks its data dir or starts libp2p
    await metrics?.listen()
    await node.start()
    await rpc.listen()
  } catch (err) {
    await stopAll().catch(() => {})
    io.stderr(`murmurd: ${err instanceof MetricsListenError ? err.message : describeStartError(err as NodeJS.ErrnoException)}\n`)
    log.debug({ err }, 'start failed')
    return 1
  }
  io.stdout(banner(config, node, metrics?.url))
  if (config.metrics != null && !isLoopbackHost(config.metrics.host)) log.warn({ url: metrics?.url }, 'metrics are served beyond this host, as --metrics asks: anyone who can reach the address can read them')
  log.info({ socket: rpc.path, ...(metrics != null ? { metrics: metrics.url } : {}) }, 'ready')
  void sdNotify(['READY=1', `STATUS=serving ${config.group} as ${config.name} on ${rpc.path}`], io.env, log)
  await untilSignalled(io, log)
  const stopping = sdNotify(['STOPPING=1'], io.env, log, false)
  try {
    await stopAll()
  } catch (err) {
    io.stderr(`murmurd: stopping failed, the rest of the node stopped: ${String((err as Error)?.message ?? err).split('\n')[0]}\n`)
    log.debug({ err }, 'stop failed')
    return 1
  } finally {
    // a READY=1 still waiting for its reader is left to finish alone
    await stopping
  }
  return 0
}

function describeStartError (err: NodeJS.ErrnoException): string {
  // libp2p folds listen failures into one multi-line message that names each address
  const failed = /(\/ip[46]\/\S+): Error: listen (EADDRINUSE|EADDRNOTAVAIL)/.exec(err.message)
  const code = failed?.[2] ?? err.code
  const where = failed?.[1] ?? ''
  if (code === 'EADDRINUSE') return `cannot listen on ${where}: address in use; choose another --listen port, or tcp/0 for any free port`
  if (code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: address not available on this host; check --listen`
  const unsupported = /(\/\S+): UnsupportedListenAddressError/.exec(err.message)
  if (unsupported != null) return `cannot listen on ${unsupported[1]}: murmurd listens on TCP (e.g. /ip4/0.0.0.0/tcp/4001) and through relays (/p2p-circuit) only; check --listen`
  return err.message.split('\n')[0] ?? String(err)
}

function banner (config: DaemonConfig, node: Murmur, metricsUrl?: string): string {
  const addrs = node.addrs
  const suggestion = addrs.find(a => !a.startsWith('/ip4/127.') && !a.startsWith('/ip6/::1/')) ?? addrs[0] ?? '<address>'
  return [
    `murmurd ${VERSION}`,
    `  name:      ${config.name}`,
    `  peer id:   ${node.peerId}`,
    `  group:     ${config.group}`,
    `  data dir:  ${config.dataDir}`,
    `  socket:    ${config.socket}`,
    ...(metricsUrl != null ? [`  metrics:   ${metricsUrl}`] : []),
    ...addrs.map((addr, i) => `  ${i === 0 ? 'listening:' : '          '} ${addr}`),
    'To join another node to this one, run:',
    `  murmurd --name <other> --peer ${suggestion}${config.group !== 'default' ? ` --group ${config.group}` : ''}${config.swarmKey != null ? ' --swarm-key <the same key file>' : ''}`,
    `or with one ticket (murmurctl --socket ${config.socket} invite prints it):`,
    '  murmurd --name <other> --join <ticket>',
    ''
  ].join('\n')
}

async function untilSignalled (io: MainIO, log: Logger): Promise<void> {
  await new Promise<void>(resolve => {
    const onSignal = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stopping (send the signal again to force)')
      const force = (again: NodeJS.Signals): void => {
        log.warn({ signal: again }, 'forced exit')
        io.exit(130)
      }
      // the new listeners first: a signal with none left is Node's default, death by that signal,
      // and a second one can land between the two steps (an emit in progress does not call them)
      process.once('SIGINT', force)
      process.once('SIGTERM', force)
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      resolve()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}
