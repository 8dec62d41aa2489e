/**
 * An answer as the frame that carries it, or, past V8's longest string
 * (~512 MiB: a batch of a thousand reads of 1 MiB values), an error in its
 * place. `JSON.stringify` threw from the socket's data handler, and murmurd
 * exited.
 */
import { createJSONRPCErrorResponse, type JSONRPCResponse } from 'json-rpc-2.0'
import { InternalErrorCode, encodeFrame } from '@murmur/protocol'

/**
 * `message` encoded; if it is too long, `tooLong` is told and each request
 * it answers gets `AnswerTooLargeError` instead (undefined: it answered none,
 * a notification, and nothing is sent).
 */
export function encodeAnswer (message: unknown, tooLong: (err: Error) => void): string | undefined {
  try {
    return encodeFrame(message)
  } catch (err) {
    tooLong(err as Error)
    const refused = answerTooLarge(message)
    return refused === undefined ? undefined : encodeFrame(refused)
  }
}

/** The error that stands for each response of `message` (one or a batch); undefined when none had an ID. */
function answerTooLarge (message: unknown): JSONRPCResponse | JSONRPCResponse[] | undefined {
  const refuse = (response: unknown): JSONRPCResponse | undefined => {
    const id = (response as { id?: unknown } | null)?.id
    if (typeof id !== 'string' && typeof id !== 'number') return undefined
    return createJSONRPCErrorResponse(id, InternalErrorCode, 'the answer is longer than this node can encode (about 512 MiB); ask for less at once: a smaller limit, or fewer requests in a batch', { name: 'AnswerTooLargeError' })
  }
  if (!Array.isArray(message)) return refuse(message)
  const refused = message.map(refuse).filter(response => response !== undefined)
  return refused.length > 0 ? refused : undefined
}
