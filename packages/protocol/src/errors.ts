/**
 * Error codes and named errors shared by murmurd and its clients.
 *
 * Errors cross the socket as `{ code, message, data: { name, ... } }` and the
 * client rebuilds them into `MurmurRpcError` instances whose `name` is
 * `data.name`, so callers can branch on `err.name` or `err.code`.
 */

/** JSON-RPC 2.0 reserved codes. */
export const ParseErrorCode = -32700
export const InvalidRequestCode = -32600
export const MethodNotFoundCode = -32601
export const InvalidParamsCode = -32602
export const InternalErrorCode = -32603

/**
 * Application codes. They sit outside −32768…−32000, the range JSON-RPC
 * reserves for the protocol and for implementations. 1003 and 1005 are
 * unassigned: they were reserved for errors murmurd never sent, and the
 * others keep their numbers so existing clients still read them right.
 */
export const StorageErrorCode = 1001
export const DialErrorCode = 1002
export const ValueTooLargeCode = 1004
/** A conditional write (`ifVersion`, `ifAbsent`) found the key in another state: `data.key`, `data.current` (its version, or null when absent). */
export const ConditionFailedCode = 1006
/** A json value that does not parse (`data.position`, when the parser gave one). */
export const InvalidJsonCode = 1007
/** A put under a schema's prefix whose value does not validate: `data.key`, `data.prefix`, `data.errors` (ajv's). */
export const SchemaViolationCode = 1008
/** A schema ajv cannot compile, set at `_schema/<prefix>` or (from a peer) governing a put: `data.prefix`. */
export const InvalidSchemaCode = 1009
/** kv_revert named a version of the key this node does not hold (never written, or trimmed from its history): `data.key`, `data.version`. */
export const VersionNotFoundCode = 1011

/** A put's `ttlMs` is not a whole number of ms from 1 to `MAX_TTL_MS`, or a keepalive's is under `MIN_KEEPALIVE_TTL_MS` (or it has none): `data.ttlMs`. */
export const InvalidTtlCode = 1010

/** A schema refused the write (murmurctl exits 6): the value does not match, or the schema does not compile. */
export function isSchemaRefusal (code: number): boolean {
  return code === SchemaViolationCode || code === InvalidSchemaCode
}

export const ErrorCodes = {
  ParseError: ParseErrorCode,
  InvalidRequest: InvalidRequestCode,
  MethodNotFound: MethodNotFoundCode,
  InvalidParams: InvalidParamsCode,
  InternalError: InternalErrorCode,
  Storage: StorageErrorCode,
  Dial: DialErrorCode,
  ValueTooLarge: ValueTooLargeCode,
  ConditionFailed: ConditionFailedCode,
  InvalidJson: InvalidJsonCode,
  SchemaViolation: SchemaViolationCode,
  InvalidSchema: InvalidSchemaCode,
  InvalidTtl: InvalidTtlCode,
  VersionNotFound: VersionNotFoundCode
} as const

export type ErrorName = keyof typeof ErrorCodes

/** The `data` member of every murmur error response. */
export interface ErrorData {
  name: string
  [field: string]: unknown
}

/** The wire shape of a JSON-RPC error object. */
export interface WireError {
  code: number
  message: string
  data?: ErrorData
}

/**
 * An error that travels over JSON-RPC. The daemon throws these from handlers;
 * the client rebuilds them from responses.
 */
export class MurmurRpcError extends Error {
  static override name = 'MurmurRpcError'
  readonly code: number
  readonly data: ErrorData

  constructor (code: number, message: string, data?: Partial<ErrorData>) {
    super(message)
    this.code = code
    this.data = { ...data, name: data?.name ?? nameForCode(code) }
    this.name = this.data.name
  }

  toWire (): WireError {
    return { code: this.code, message: this.message, data: this.data }
  }

  static fromWire (error: WireError): MurmurRpcError {
    return new MurmurRpcError(error.code, error.message, error.data)
  }
}

/** Builds a named error for one of murmur's codes: `rpcError('InvalidParams', 'key must not be empty')`. */
export function rpcError (name: ErrorName, message: string, data: Record<string, unknown> = {}): MurmurRpcError {
  return new MurmurRpcError(ErrorCodes[name], message, { ...data, name: `${name}Error` })
}

function nameForCode (code: number): string {
  for (const [name, value] of Object.entries(ErrorCodes)) {
    if (value === code) return `${name}Error`
  }
  return 'RpcError'
}
