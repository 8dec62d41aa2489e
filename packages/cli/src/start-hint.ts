/**
 * The murmurd command line that would serve a socket path the client could
 * not reach, for the "start it with:" part of the message.
 */
import { basename, dirname } from 'node:path'
import { SOCKET_FILE, type ResolvedSocket } from '@murmur/protocol/client'

const BY_NAME = new Set(['--name', 'MURMUR_NAME', 'default'])

export function startHint ({ path, via }: ResolvedSocket): string {
  // A daemon keeps its socket at <data-dir>/murmurd.sock; any other path it cannot serve.
  if (basename(path) !== SOCKET_FILE) return 'murmurd --name <name>'
  const dataDir = dirname(path)
  if (BY_NAME.has(via)) return `murmurd --name ${shellQuote(basename(dataDir))}`
  return `murmurd --data-dir ${shellQuote(dataDir)}`
}

function shellQuote (word: string): string {
  if (/^[\w./:@%+=,-]+$/.test(word) || word === '<name>') return word
  return `'${word.replaceAll("'", "'\\''")}'`
}
