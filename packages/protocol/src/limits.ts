/** Limits every murmur node enforces. The daemon may lower the value limit, never raise the key limit. */
export const MAX_KEY_BYTES = 1024
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024
/** A frame is one NDJSON line; it must hold a full-size value even when JSON escaping inflates it. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024
export const MAX_JSON_DEPTH = 32
/** A stored json value nested deeper than this is sent as base64: `JSON.stringify` recurses on the stack, and overflowed it at a few thousand levels. */
export const MAX_JSON_VALUE_DEPTH = 1000
export const MAX_BATCH_REQUESTS = 1000
export const DEFAULT_LIST_LIMIT = 1000
export const MAX_LIST_LIMIT = 10000
/** A frame must arrive whole within this long of its first byte, or the daemon closes the connection. */
export const DEFAULT_FRAME_TIMEOUT_MS = 10_000
/** Connections a daemon serves at once; one more is answered with TooBusyError and closed. */
export const DEFAULT_MAX_CONNECTIONS = 256
/** Requests (a batch counts as one) one connection may have in progress. */
export const DEFAULT_MAX_IN_FLIGHT = 1024
/** Subscriptions one connection may hold. */
export const DEFAULT_MAX_SUBSCRIPTIONS = 256
/** A node's name (murmurd --name), also its data dir's name under the data root; a group's name too. */
export const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
/** Unix socket paths longer than this do not fit `sockaddr_un.sun_path` on Linux. */
export const MAX_SOCKET_PATH_BYTES = 107

/** Keys starting with this (U+0000) are murmur's own records (members' attestations): no client may write them. */
export const RESERVED_KEY_PREFIX = '\u0000'
/** The most bytes one node_backup_read returns (base64 in a frame well under the frame limit). */
export const MAX_BACKUP_CHUNK_BYTES = 4 * 1024 * 1024
/** The longest a ticket from node_invite may stay valid: a year. */
export const MAX_INVITE_MS = 365 * 24 * 60 * 60 * 1000
/** How long a ticket stays valid when the caller does not say: a day. */
export const DEFAULT_INVITE_MS = 24 * 60 * 60 * 1000

/** The longest TTL a put may ask for: a year (a value that should live longer needs none). */
export const MAX_TTL_MS = 365 * 24 * 60 * 60 * 1000
/** The shortest TTL a keepalive may have: it is refreshed every third of it, so a shorter one is mostly writes. */
export const MIN_KEEPALIVE_TTL_MS = 2_000

/** Most prefixes one subscription may name. */
export const MAX_WATCH_PREFIXES = 64

/** Entries per `snapshot` event of a resumed subscription. */
export const SNAPSHOT_PAGE = 1000
