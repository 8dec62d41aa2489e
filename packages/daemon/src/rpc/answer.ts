/**
 * Answering one frame: its JSON-RPC 2.0 request or batch parsed, checked and
 * run against the RPC methods, and every failure turned into an error
 * response (logged once, here). Nothing here touches the socket; the server
 * sends what this returns.
 */
import { createJSONRPCErrorResponse, createJSONRPCSuccessResponse, type JSONRPCID, type JSONRPCRequest, type JSONRPCResponse } from 'json-rpc-2.0'
import {
  InternalErrorCode, InvalidRequestCode, MAX_BATCH_REQUESTS, MethodNotFoundCode, MurmurRpcError, ParseErrorCode, isMethodName, parseFrame
} from '@murmur/protocol'
import { isWriteMethod, type Connection, type RpcMethods, type WriteCall } from './handlers.js'
import type { Logger } from 'pino'

/** An answer, or a promise of one when it waits on I/O (a write, a dial). */
export type Answer<T> = T | null | Promise<T | null>

/**
 * Counts an answered request: `method` is a method name, "invalid" (not a
 * JSON-RPC request) or "unknown" (no such method); `code` is undefined for success.
 */
export type CountRequest = (method: string, code?: number) => void

export class Answerer {
  private readonly methods: RpcMethods
  private readonly log: Logger
  private readonly count: CountRequest

  constructor (methods: RpcMethods, log: Logger, count: CountRequest = () => {}) {
    this.methods = methods
    this.log = log
    this.count = count
  }

  /** The answer to one frame: a response, a batch's responses, or null when nothing is to be sent back. */
  answer (connection: Connection, line: string): Answer<JSONRPCResponse | JSONRPCResponse[]> {
    let message: unknown
    try {
      message = parseFrame(line)
    } catch (err) {
      this.log.debug({ conn: connection.id, err: (err as Error).message }, 'RPC client sent a frame that does not parse')
      this.count('invalid', ParseErrorCode)
      return createJSONRPCErrorResponse(null, ParseErrorCode, `parse error: ${(err as Error).message}`, { name: (err as Error).name })
    }
    if (!Array.isArray(message)) return this.answerOne(connection, message)
    const problem = message.length === 0
      ? 'empty batch'
      : message.length > MAX_BATCH_REQUESTS ? `batch of ${message.length} requests exceeds the limit of ${MAX_BATCH_REQUESTS}` : undefined
    if (problem != null) {
      this.log.debug({ conn: connection.id, batch: message.length }, `RPC request refused: ${problem}`)
      this.count('invalid', InvalidRequestCode)
      // a batch too long is refused request by request, under their ids: a client waits for its ids, and one error
      // under id null answered none of them (MurmurClient.batch waited for ever)
      if (message.length > 0) return this.refusal(line, InvalidRequestCode, problem, { name: 'InvalidRequestError' })
      return createJSONRPCErrorResponse(null, InvalidRequestCode, problem, { name: 'InvalidRequestError' })
    }
    return this.answerBatch(connection, message)
  }

  /**
   * One error for each request of a frame that will not be run (too many in
   * flight), under the request's own id so its caller hears of it; none for
   * a notification, and one under id null for a frame that does not parse.
   */
  refusal (line: string, code: number, message: string, data: { name: string }): JSONRPCResponse | JSONRPCResponse[] | null {
    const refuse = (request: unknown): JSONRPCResponse | null =>
      isNotification(request) ? null : createJSONRPCErrorResponse(idOf(request), code, message, data)
    let parsed: unknown
    try {
      parsed = parseFrame(line)
    } catch {
      return createJSONRPCErrorResponse(null, code, message, data)
    }
    if (!Array.isArray(parsed) || parsed.length === 0) return refuse(parsed)
    const responses = parsed.map(refuse).filter(response => response != null)
    return responses.length > 0 ? responses : null
  }

  /**
   * A batch's kv_put and kv_delete requests become one write (one promise
   * whatever their number); every other element is answered on its own. The
   * answers keep the batch's order, notifications left out.
   */
  private async answerBatch (connection: Connection, messages: unknown[]): Promise<JSONRPCResponse[] | null> {
    const answers = new Array<Answer<JSONRPCResponse>>(messages.length)
    const writes: WriteCall[] = []
    const requests: JSONRPCRequest[] = []
    /** The index in `messages` of each write. */
    const indexes: number[] = []
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]
      if (requestProblem(message) == null && isWriteMethod((message as JSONRPCRequest).method)) {
        const request = message as JSONRPCRequest
        writes.push({ method: request.method as WriteCall['method'], params: request.params })
        requests.push(request)
        indexes.push(i)
      } else {
        answers[i] = this.answerOne(connection, message)
      }
    }
    if (writes.length > 0) {
      const settled = await this.methods.writeMany(writes)
      for (let j = 0; j < settled.length; j++) {
        const outcome = settled[j] as PromiseSettledResult<unknown>
        const request = requests[j] as JSONRPCRequest
        answers[indexes[j] as number] = outcome.status === 'fulfilled' ? this.success(request, outcome.value) : this.failure(connection, request, outcome.reason)
      }
    }
    const responses: JSONRPCResponse[] = []
    for (const answer of answers) {
      const response = answer instanceof Promise ? await answer : answer
      if (response != null) responses.push(response)
    }
    return responses.length > 0 ? responses : null
  }

  /** Answers one request; synchronously when its method needs no I/O. Notifications get no answer. */
  private answerOne (connection: Connection, message: unknown): Answer<JSONRPCResponse> {
    const problem = requestProblem(message)
    if (problem != null) {
      this.log.debug({ conn: connection.id }, `RPC request refused: ${problem}`)
      this.count('invalid', InvalidRequestCode)
      return createJSONRPCErrorResponse(idOf(message), InvalidRequestCode, `invalid request: ${problem}`, { name: 'InvalidRequestError' })
    }
    const request = message as JSONRPCRequest
    const { method } = request
    if (!isMethodName(method)) {
      return this.failure(connection, request, new MurmurRpcError(MethodNotFoundCode, `method not found: ${method}`, { name: 'MethodNotFoundError' }))
    }
    let result: unknown
    try {
      result = this.methods.call(method, request.params, connection)
    } catch (err) {
      return this.failure(connection, request, err)
    }
    if (!(result instanceof Promise)) return this.success(request, result)
    return result.then(value => this.success(request, value), (err: unknown) => this.failure(connection, request, err))
  }

  private success (request: JSONRPCRequest, result: unknown): JSONRPCResponse | null {
    this.count(request.method)
    return request.id === undefined ? null : createJSONRPCSuccessResponse(request.id, result)
  }

  /** The error response for a failed request (none for a notification); every failure is logged once, here. */
  private failure (connection: Connection, request: JSONRPCRequest, err: unknown): JSONRPCResponse | null {
    const response = this.errorResponse(request.id ?? null, err)
    const { error } = response
    this.count(isMethodName(request.method) ? request.method : 'unknown', error?.code)
    if (error != null) this.log.debug({ conn: connection.id, method: request.method, code: error.code, err: error.message }, 'RPC request failed')
    return request.id === undefined ? null : response
  }

  private errorResponse (id: JSONRPCID, err: unknown): JSONRPCResponse {
    if (err instanceof MurmurRpcError) return createJSONRPCErrorResponse(id, err.code, err.message, err.data)
    this.log.error({ err }, 'RPC handler failed')
    return createJSONRPCErrorResponse(id, InternalErrorCode, `internal error: ${(err as Error)?.message ?? String(err)}`, { name: 'InternalError' })
  }
}

/** Why `message` is not a JSON-RPC 2.0 request, or undefined when it is one. */
function requestProblem (message: unknown): string | undefined {
  if (typeof message !== 'object' || message == null || Array.isArray(message)) return 'a request must be a JSON object'
  const request = message as Record<string, unknown>
  if (request.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"'
  if (typeof request.method !== 'string') return 'method must be a string'
  if (request.result !== undefined || request.error !== undefined) return 'a request carries no result or error'
  if ('id' in request && !isId(request.id)) return 'id must be a string, a number or null'
  if ('params' in request && (typeof request.params !== 'object' || request.params == null)) return 'params must be an object'
  return undefined
}

function isId (id: unknown): boolean {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))
}

function isNotification (message: unknown): boolean {
  return typeof message === 'object' && message != null && !Array.isArray(message) && !('id' in message) && typeof (message as { method?: unknown }).method === 'string'
}

function idOf (message: unknown): string | number | null {
  const id = (message as { id?: unknown } | null)?.id
  return isId(id) ? id as string | number | null : null
}
