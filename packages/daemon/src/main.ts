/**
 * murmurd's entry: parse and validate the configuration, start the node and
 * its RPC socket, print how to reach it, and stop cleanly on SIGINT/SIGTERM
 * (a second signal forces the exit).
 */
import './polyfill.js'
import { CommanderError } from 'commander'
import { buildCommand, parseConfig, type DaemonConfig } from './config.js'
import { ConfigError } from './errors.js'
import { createLogger } from './logger.js'
import { Murmur } from './murmur.js'
import { RpcServer } from './rpc/server.js'
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
    config = parse(argv, io)
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2
    if (err instanceof ConfigError) {
      io.stderr(`murmurd: ${err.message}\n`)
      return 2
    }
    throw err
  }
  const log = await createLogger(config.logLevel, { name: config.name })
  const node = new Murmur({ ...config, logger: log })
  const rpc = new RpcServer(node, { path: config.socket, log: log.child({ component: 'rpc' }) })
  try {
    await node.start()
    await rpc.listen()
  } catch (err) {
    await node.stop().catch(() => {})
    io.stderr(`murmurd: ${describeStartError(err as NodeJS.ErrnoException)}\n`)
    log.debug({ err }, 'start failed')
    return 1
  }
  io.stdout(banner(config, node))
  log.info({ socket: rpc.path }, 'ready')
  await untilSignalled(io, log)
  await rpc.close()
  await node.stop()
  return 0
}

function parse (argv: string[], io: MainIO): DaemonConfig {
  const command = buildCommand()
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
  return parseConfig(command, argv, io.env)
}

function describeStartError (err: NodeJS.ErrnoException): string {
  // libp2p folds listen failures into one multi-line message that names each address
  const failed = /(\/ip[46]\/\S+): Error: listen (EADDRINUSE|EADDRNOTAVAIL)/.exec(err.message)
  const code = failed?.[2] ?? err.code
  const where = failed?.[1] ?? ''
  if (code === 'EADDRINUSE') return `cannot listen on ${where}: address in use; choose another --listen port, or tcp/0 for any free port`
  if (code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: address not available on this host; check --listen`
  return err.message.split('\n')[0] ?? String(err)
}

function banner (config: DaemonConfig, node: Murmur): string {
  const addrs = node.addrs
  const suggestion = addrs.find(a => !a.startsWith('/ip4/127.') && !a.startsWith('/ip6/::1/')) ?? addrs[0] ?? '<address>'
  return [
    `murmurd ${VERSION}`,
    `  name:      ${config.name}`,
    `  peer id:   ${node.peerId}`,
    `  group:     ${config.group}`,
    `  data dir:  ${config.dataDir}`,
    `  socket:    ${config.socket}`,
    ...addrs.map((addr, i) => `  ${i === 0 ? 'listening:' : '          '} ${addr}`),
    'To join another node to this one, run:',
    `  murmurd --name <other> --peer ${suggestion}${config.group !== 'default' ? ` --group ${config.group}` : ''}${config.swarmKey != null ? ' --swarm-key <the same key file>' : ''}`,
    ''
  ].join('\n')
}

async function untilSignalled (io: MainIO, log: Logger): Promise<void> {
  await new Promise<void>(resolve => {
    const onSignal = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stopping (send the signal again to force)')
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      const force = (again: NodeJS.Signals): void => {
        log.warn({ signal: again }, 'forced exit')
        io.exit(130)
      }
      process.once('SIGINT', force)
      process.once('SIGTERM', force)
      resolve()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}
