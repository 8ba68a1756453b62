import {setMaxListeners} from 'node:events'

import {redactSecrets} from '../../lib/redact.js'
import type {StreamEvent} from '../types.js'
import {fetchResponse} from './fetch-transport.js'
import {StreamInterpreter} from './interpreter.js'
import {nodeHttpPost} from './node-http-transport.js'
import {type ClientEvent, excerpt, httpErrorMessage, type LlamaServerTimings, serverErrorMessageIn, type WireProtocol} from './protocols.js'
import {SseFramer, SseFramingError} from './sse.js'
import {type HttpTransport, type OpenedResponse, readTextLimited} from './transport.js'

/**
 * The streaming HTTP client every server engine uses: POST a JSON body, read the SSE answer as bytes,
 * turn it into StreamEvents with a monotonic arrival time per event, and turn every failure into an error
 * EVENT (never a throw): one failed request must not stop a level.
 */

/** Per-request limit of the server engines unless the user sets one (--request-timeout). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 600_000

export interface StreamRequestOptions {
  /** Full URL, e.g. http://127.0.0.1:8080/completion. */
  url: string
  protocol: WireProtocol
  body: unknown
  /** Extra headers (Authorization). Never echoed in any message. */
  headers?: Record<string, string>
  /** The caller's signal (interrupt): the request ends with an 'dropped' error event. */
  signal: AbortSignal
  /** Whole-request limit; null = none. The request ends with a 'timeout' error event. */
  timeoutMs: number | null
  /** Strings (API keys) scrubbed from every message, in case a server or a library echoes them. */
  secrets?: readonly string[]
  /** For tests: the arrival clock. */
  clock?: () => number
  /**
   * false = `connection: close`, a new TCP connection per request: no stale pooled socket can ever fail a
   * request. Right for a local server (a loopback connect costs microseconds); keep the default (true) for
   * remote endpoints, where a TLS handshake per request would inflate TTFT.
   */
  keepAlive?: boolean
  /** See HttpTransport. Default 'fetch'. */
  transport?: HttpTransport
}

/** The innermost code/message of a transport failure (undici wraps the socket error in `cause`). */
function describeFailure(error: unknown): {code: string | null; message: string} {
  let current: unknown = error
  let code: string | null = null
  const messages: string[] = []
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const withCode = current as Error & {code?: unknown; cause?: unknown}
    if (typeof withCode.code === 'string') code = withCode.code
    if (current.message !== '' && !messages.includes(current.message)) messages.push(current.message)
    current = withCode.cause
  }
  return {code, message: messages.length > 0 ? messages.join(': ') : String(error)}
}

/** How long the body may stay open after the terminal event ([DONE] / stop: true). */
const DRAIN_MS = 1000

/** Sends again after this many stale-socket failures at most (see isStaleSocket). */
const STALE_SOCKET_RETRIES = 2

/**
 * undici's "other side closed" / node:http's "socket hang up" / a reset on a REUSED connection before any
 * response byte: llama-server closes keep-alive connections now and then right as the next request is
 * written (measured: 10 of 200 back-to-back requests at concurrency 2 without a fix, 0 with
 * `connection: close`).
 */
function isStaleSocket(error: unknown): boolean {
  const {code, message} = describeFailure(error)
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE' || message.includes('other side closed')
}

const transportTimeouts = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'IDLE_SOCKET_TIMEOUT'])

/** What streams a request in other threads (client-threads.ts); null = this thread. */
export type ThreadedStreams = (options: StreamRequestOptions) => AsyncGenerator<ClientEvent>

let threaded: ThreadedStreams | null = null

/**
 * Route every later streamRequest without its own `clock` through `streams` (the client threads:
 * client-threads.ts `useClientThreads`), or back to this thread (null). Process-wide: one run's setting.
 */
export function setThreadedStreams(streams: ThreadedStreams | null): void {
  threaded = streams
}

/**
 * Send one streaming request and yield its events. Always ends with either a usage event (complete
 * stream; absent when the server reports none) or exactly one error event; never throws. Stopping the
 * iteration early (break/return) aborts the HTTP request. With client threads in use (setThreadedStreams)
 * the request is read, stamped and parsed in one of them and only its events come here; a request with its
 * own `clock` (tests) or an already aborted signal stays in this thread.
 */
export function streamRequest(options: StreamRequestOptions): AsyncGenerator<ClientEvent> {
  return threaded !== null && options.clock === undefined && !options.signal.aborted ? threaded(options) : streamRequestHere(options)
}

/** streamRequest in this thread: what the client threads run, and the path without them. */
export async function* streamRequestHere(options: StreamRequestOptions): AsyncGenerator<ClientEvent> {
  const {signal, timeoutMs, protocol} = options
  const secrets = options.secrets ?? []
  const url = new URL(options.url)
  const path = url.pathname
  const clock = options.clock ?? (() => performance.now())
  const interpreter = new StreamInterpreter(protocol)
  const controller = new AbortController()
  let abortReason: 'caller' | 'timeout' | null = null
  const onCallerAbort = () => {
    abortReason ??= 'caller'
    controller.abort()
  }
  if (signal.aborted) {
    yield {kind: 'error', errorKind: 'dropped', message: `POST ${path} was not sent: stopped by the caller (interrupted).`}
    return
  }
  // A level's signal is shared by every request in flight (64 and more): without this Node prints a false
  // "MaxListenersExceededWarning: Possible EventTarget memory leak" from the 11th. Each listener is removed in
  // the finally below (the soak, bench/soak.js, checks the memory stays flat).
  setMaxListeners(0, signal)
  signal.addEventListener('abort', onCallerAbort, {once: true})
  const timer =
    timeoutMs === null
      ? null
      : setTimeout(() => {
          abortReason ??= 'timeout'
          controller.abort()
        }, timeoutMs)

  let drainTimer: ReturnType<typeof setTimeout> | null = null
  let response: OpenedResponse | null = null

  const failure = (error: unknown, phase: 'before' | 'during'): ClientEvent => {
    const where = phase === 'before' ? 'before the response' : `after ${interpreter.contentEvents} content event(s)`
    if (abortReason === 'timeout') {
      return {kind: 'error', errorKind: 'timeout', message: `POST ${path} did not finish within the ${timeoutMs} ms request timeout (${where}).`}
    }
    if (abortReason === 'caller') {
      return {kind: 'error', errorKind: 'dropped', message: `POST ${path} was stopped by the caller (interrupted) ${where}.`}
    }
    if (error instanceof SseFramingError) {
      return {kind: 'error', errorKind: 'stream-error', message: `POST ${path}: malformed event stream ${where}: ${error.message}`}
    }
    const {code, message} = describeFailure(error)
    if (code !== null && transportTimeouts.has(code)) {
      return {kind: 'error', errorKind: 'timeout', message: redactSecrets(`POST ${path} timed out in the HTTP client (${code}) ${where}: ${message}`, secrets)}
    }
    const what = phase === 'before' ? 'could not be sent or got no response' : 'lost its connection'
    return {kind: 'error', errorKind: 'dropped', message: redactSecrets(`POST ${path} ${what} (${where}): ${message}`, secrets)}
  }

  try {
    const headers = {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(options.keepAlive === false ? {connection: 'close'} : {}),
      ...options.headers,
    }
    const payload = JSON.stringify(options.body)
    for (let attempt = 1; response === null; attempt++) {
      try {
        response =
          options.transport === 'node-http'
            ? await nodeHttpPost(url, headers, payload, options.keepAlive !== false, controller.signal, clock)
            : fetchResponse(await fetch(options.url, {method: 'POST', headers, body: payload, signal: controller.signal}), clock)
      } catch (error) {
        // A pooled keep-alive socket the server had already closed: nothing was answered, send again.
        if (abortReason === null && attempt <= STALE_SOCKET_RETRIES && isStaleSocket(error)) continue
        yield failure(error, 'before')
        return
      }
    }
    if (response.status !== 200) {
      const text = await readTextLimited(response)
      yield {kind: 'error', errorKind: 'http', message: redactSecrets(`POST ${path}: ${httpErrorMessage(response.status, response.statusText, text)}`, secrets)}
      return
    }
    const contentType = response.contentType
    if (contentType.includes('application/json')) {
      const text = await readTextLimited(response)
      const detail = serverErrorMessageIn(text)
      yield {
        kind: 'error',
        errorKind: 'stream-error',
        message: redactSecrets(`POST ${path} answered 200 with ${contentType || 'no body'} instead of an event stream: ${detail ?? excerpt(text)}`, secrets),
      }
      return
    }
    // A synchronous framer straight on the reads: no async-generator layer between a network read and its
    // events (each layer costs microtasks and allocations per event).
    const framer = new SseFramer()
    try {
      for (let ended = false; !ended;) {
        const {done, value, atMs} = await response.read()
        ended = done
        // Messages completed by the same read share its time: when the client could first have seen them.
        for (const message of done || value === undefined ? framer.end() : framer.push(value)) {
          const {events, end} = interpreter.onMessage(message.data, atMs)
          for (const event of events) yield event.kind === 'error' ? {...event, message: redactSecrets(event.message, secrets)} : event
          if (end && !interpreter.done) return // an error event ended it
          // After the terminal event read on to the end of the body (servers end it at once), so the
          // connection is left in a clean state; a server that keeps it open is cut off after DRAIN_MS.
          if (interpreter.done && drainTimer === null) drainTimer = setTimeout(() => controller.abort(), DRAIN_MS)
        }
      }
    } catch (error) {
      // Anything after the terminal event (the drain cut, an interrupt) does not change a complete answer.
      if (!interpreter.done) {
        yield failure(error, 'during')
        return
      }
    }
    yield* interpreter.finish()
  } finally {
    if (timer !== null) clearTimeout(timer)
    if (drainTimer !== null) clearTimeout(drainTimer)
    signal.removeEventListener('abort', onCallerAbort)
    // Leaving before the body ended (an error event, the consumer stopped): stop reading it.
    response?.cancel()
    // Releases the socket when the consumer stopped early or the stream ended without closing.
    controller.abort()
  }
}

/**
 * A client event as Engine.stream() yields it: llama-server's timings go to onServerTimings instead (null).
 * The engines apply it inside their own loop over streamRequest rather than through another async generator:
 * each generator between the socket and the level runner costs promises and allocations per event.
 */
export function toEngineEvent(event: ClientEvent, onServerTimings?: (timings: LlamaServerTimings) => void): StreamEvent | null {
  if (event.kind !== 'server-timings') return event
  onServerTimings?.(event.timings)
  return null
}
