/** A problem the user can fix: reported as one line, no stack. */
export class ConfigError extends Error {
  static override name = 'ConfigError'
  override name = 'ConfigError'
}

/** The data dir cannot be made, or made private (0700), by this user. */
export class DataDirError extends Error {
  static override name = 'DataDirError'
  override name = 'DataDirError'
}

/** Another murmurd holds the data dir. */
export class DataDirLockedError extends Error {
  static override name = 'DataDirLockedError'
  override name = 'DataDirLockedError'
}

/** The identity key exists but cannot be used; never replaced silently. */
export class IdentityError extends Error {
  static override name = 'IdentityError'
  override name = 'IdentityError'
}

/** Something already listens on the socket path. */
export class SocketInUseError extends Error {
  static override name = 'SocketInUseError'
  override name = 'SocketInUseError'
}

/** The node is not running (not started yet, or stopped). */
export class NotStartedError extends Error {
  static override name = 'NotStartedError'
  override name = 'NotStartedError'
}

/** The socket path, or its directory, could let another user reach or replace the socket. */
export class UnsafeSocketPathError extends Error {
  static override name = 'UnsafeSocketPathError'
  override name = 'UnsafeSocketPathError'
}
