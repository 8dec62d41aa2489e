/** Limits every murmur node enforces. The daemon may lower the value limit, never raise the key limit. */
export const MAX_KEY_BYTES = 1024
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024
/** A frame is one NDJSON line; it must hold a full-size value even when JSON escaping inflates it. */
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024
export const MAX_JSON_DEPTH = 32
export const MAX_BATCH_REQUESTS = 1000
export const DEFAULT_LIST_LIMIT = 1000
export const MAX_LIST_LIMIT = 10000
/** Unix socket paths longer than this do not fit `sockaddr_un.sun_path` on Linux. */
export const MAX_SOCKET_PATH_BYTES = 107
