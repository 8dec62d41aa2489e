/**
 * Named errors thrown by core. Callers branch on `err.name` (or `instanceof`),
 * and the daemon maps them to RPC errors without parsing messages.
 */

/** Bytes that are not a valid op batch, or an op that cannot be encoded faithfully. */
export class OpCodecError extends Error {
  static override name = 'OpCodecError'
  override name = 'OpCodecError'
}

/** The database was written by a murmur with a different storage format. */
export class StoreVersionError extends Error {
  static override name = 'StoreVersionError'
  override name = 'StoreVersionError'
  readonly path: string
  readonly found: unknown
  readonly supported: number

  /** `oldest`: the oldest version this murmur brings up to `supported` as it opens a file. */
  constructor (path: string, found: unknown, supported: number, oldest = supported) {
    super(`${path} has schema version ${String(found)}; this murmur supports ${supported}` + (typeof found === 'number' && found > supported
      ? ': a newer murmur wrote it; run that version or a later one (or restore a backup taken before the upgrade)'
      : ` and upgrades files from version ${oldest}: move this one away and let the node resync from its peers`))
    this.path = path
    this.found = found
    this.supported = supported
  }
}

/** The file is not a murmur database (another SQLite database, or not SQLite at all). It is left untouched. */
export class ForeignDatabaseError extends Error {
  static override name = 'ForeignDatabaseError'
  override name = 'ForeignDatabaseError'
  readonly path: string

  constructor (path: string, reason: string, options?: ErrorOptions) {
    super(`${path} is not a murmur database: ${reason}`, options)
    this.path = path
  }
}

/** A murmur database that SQLite finds damaged. It is left untouched, never repaired or replaced. */
export class DamagedDatabaseError extends Error {
  static override name = 'DamagedDatabaseError'
  override name = 'DamagedDatabaseError'
  readonly path: string
  /** The first problem SQLite reported. */
  readonly problem: string

  constructor (path: string, problem: string, options?: ErrorOptions) {
    super(`${path} is damaged: ${problem}; restore it from a backup, or move it away and let the node resync from its peers`, options)
    this.path = path
    this.problem = problem
  }
}

/**
 * Bringing an older file up to this murmur's schema failed (a full disk, a
 * read error). The upgrade runs in one transaction, so the file is as the
 * older murmur left it, and the next start tries again.
 */
export class UpgradeFailedError extends Error {
  static override name = 'UpgradeFailedError'
  override name = 'UpgradeFailedError'
  readonly path: string
  readonly from: number

  constructor (path: string, from: number, to: number, options: ErrorOptions & { cause: unknown }) {
    const reason = options.cause instanceof Error ? options.cause.message : String(options.cause)
    super(`upgrading ${path} from schema version ${from} to ${to} failed (${reason}); the file is unchanged (the upgrade is one transaction): ` +
      'free disk space if it is full and start murmurd again, or restore a backup', options)
    this.path = path
    this.from = from
  }
}
