import {Agent as HttpAgent, type ClientRequest, request as httpRequest, type IncomingMessage} from 'node:http'
import {Agent as HttpsAgent, request as httpsRequest} from 'node:https'

import type {OpenedResponse, TimedRead} from './transport.js'

/** A body still arriving at most this many bytes ahead of the reader before the socket is paused. */
const MAX_BUFFERED_BYTES = 1024 * 1024

/**
 * undici's defaults for a silent connection (headersTimeout / bodyTimeout): with node-http a request with
 * no timeoutMs must not wait forever on a server that went quiet either.
 */
const IDLE_SOCKET_MS = 300_000

/** node:http(s) response, read by stamping each 'data' callback and queueing it for the reader. */
class NodeHttpResponse implements OpenedResponse {
  readonly status: number
  readonly statusText: string
  readonly contentType: string
  private readonly queue: TimedRead[] = []
  private queuedBytes = 0
  private failure: unknown = null
  private ended = false
  private waiter: {resolve: (read: TimedRead) => void; reject: (error: unknown) => void} | null = null

  constructor(
    private readonly request: ClientRequest,
    private readonly response: IncomingMessage,
    clock: () => number,
  ) {
    this.status = response.statusCode ?? 0
    this.statusText = response.statusMessage ?? ''
    const contentType = response.headers['content-type']
    this.contentType = typeof contentType === 'string' ? contentType : ''
    response.on('data', (chunk: Buffer) => {
      this.push({done: false, value: chunk, atMs: clock()})
      if (this.queuedBytes > MAX_BUFFERED_BYTES) response.pause()
    })
    response.on('end', () => {
      this.ended = true
      this.push({done: true, value: undefined, atMs: clock()})
    })
    // The connection closing before the body's end ("aborted": the server died or reset it) ends the body
    // where it stands, as fetch does: the interpreter then says whether the stream was complete. Our own
    // aborts and timeouts are failures set first (see nodeHttpPost), so they are not mistaken for this.
    const closedEarly = () => {
      if (this.ended || this.failure !== null) return
      this.ended = true
      this.push({done: true, value: undefined, atMs: clock()})
    }
    response.on('error', closedEarly)
    response.on('close', closedEarly)
  }

  read(): Promise<TimedRead> {
    const queued = this.queue.shift()
    if (queued !== undefined) {
      this.queuedBytes -= queued.value?.length ?? 0
      if (this.queuedBytes <= MAX_BUFFERED_BYTES && this.response.isPaused()) this.response.resume()
      return Promise.resolve(queued)
    }
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the socket's own error, passed on as it came
    if (this.failure !== null) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => (this.waiter = {resolve, reject}))
  }

  /**
   * Errors after the response started end the reader too. Bytes that arrived before a reset are still
   * read (they did arrive); after an abort (`discardQueued`) nothing more is, as with fetch.
   */
  fail(error: unknown, discardQueued = false): void {
    if (discardQueued) {
      this.queue.length = 0
      this.queuedBytes = 0
    }
    if (this.ended || this.failure !== null) return
    this.failure = error
    const waiter = this.waiter
    this.waiter = null
    waiter?.reject(error)
  }

  cancel(): void {
    if (!this.ended) this.request.destroy()
  }

  private push(read: TimedRead): void {
    const waiter = this.waiter
    this.waiter = null
    if (waiter === null) {
      this.queue.push(read)
      this.queuedBytes += read.value?.length ?? 0
    } else {
      wakeLater(() => waiter.resolve(read))
    }
  }
}

/**
 * Readers woken in the loop's check phase, not inside the 'data' callback. Node runs the microtasks a
 * resolve starts (the SSE framing, the interpreter, the level's bookkeeping) right after each callback, so
 * waking the reader there made the NEXT socket of the same poll wait for this stream's whole processing
 * before its bytes were read and stamped: with 64 streams in step the last one was stamped ~63 streams' work
 * late. Deferred to one setImmediate per loop turn, every socket ready in a poll is read and stamped first,
 * then all are processed (perf/README.md "ITL timing error": measured against the Python yardstick).
 */
let wakeups: (() => void)[] = []
function wakeLater(wake: () => void): void {
  wakeups.push(wake)
  if (wakeups.length === 1) setImmediate(wakeAll)
}
function wakeAll(): void {
  const due = wakeups
  wakeups = []
  for (const wake of due) wake()
}

function withCode(error: Error, code: string): Error {
  return Object.assign(error, {code})
}

/** Connections kept alive between requests (keepAlive: true), one pool per scheme, as fetch's global pool. */
const keepAliveAgents = {http: new HttpAgent({keepAlive: true}), https: new HttpsAgent({keepAlive: true})}

/**
 * POST with node:http(s). Resolves once the status line and headers are in; rejects when no response came
 * (refused, reset, aborted). Aborting `signal` later destroys the request, which ends the body reader.
 */
export function nodeHttpPost(url: URL, headers: Record<string, string>, body: string, keepAlive: boolean, signal: AbortSignal, clock: () => number): Promise<OpenedResponse> {
  const secure = url.protocol === 'https:'
  if (!secure && url.protocol !== 'http:') return Promise.reject(new TypeError(`unsupported protocol ${url.protocol} (http: or https: only)`))
  const payload = Buffer.from(body)
  return new Promise((resolve, reject) => {
    let opened: NodeHttpResponse | null = null
    const options = {
      method: 'POST',
      headers: {...headers, 'content-length': String(payload.length)},
      agent: keepAlive ? keepAliveAgents[secure ? 'https' : 'http'] : false,
    }
    const request = (secure ? httpsRequest : httpRequest)(url, options, (response) => {
      opened = new NodeHttpResponse(request, response, clock)
      resolve(opened)
    })
    // Our own stops: the reader fails with the reason first, then the socket goes.
    const stop = (error: Error, discardQueued: boolean) => {
      opened?.fail(error, discardQueued)
      request.destroy(error)
    }
    const onAbort = () => stop(withCode(new Error('This operation was aborted'), 'ABORT_ERR'), true)
    signal.addEventListener('abort', onAbort, {once: true})
    request.once('close', () => signal.removeEventListener('abort', onAbort))
    request.on('error', (error: Error & {code?: unknown}) => {
      if (opened !== null) {
        opened.fail(error)
        return
      }
      // Node's words for a connection the server closed without answering; say what that means.
      if (error.code === 'ECONNRESET' && error.message === 'socket hang up') {
        error.message = 'socket hang up (the other side closed the connection without answering)'
      }
      reject(error)
    })
    request.setTimeout(IDLE_SOCKET_MS, () => stop(withCode(new Error(`no byte for ${IDLE_SOCKET_MS / 1000} s`), 'IDLE_SOCKET_TIMEOUT'), false))
    if (signal.aborted) onAbort()
    request.end(payload)
  })
}
