import {setMaxListeners} from 'node:events'
import {Agent as HttpAgent, type ClientRequest, request as httpRequest, type IncomingMessage} from 'node:http'
import {Agent as HttpsAgent, request as httpsRequest} from 'node:https'

import type {GenRequest, StreamEvent} from '../types.js'
import {redactSecrets} from '../../lib/redact.js'
import {SseFramer, SseFramingError} from './sse.js'

/**
 * The streaming HTTP client every server engine uses: POST a JSON body, read the SSE answer as bytes,
 * turn it into StreamEvents with a monotonic arrival time per event, and turn every failure into an error
 * EVENT (never a throw): one failed request must not stop a level.
 *
 * Protocols (see /work/shared/reference/protocols.md):
 * - 'llamacpp-completion': llama-server POST /completion. Each event carries `content` and `tokens` (the
 *   token ids of that event, so the server SAYS how many tokens it holds); the last has `stop: true`,
 *   `tokens_predicted`, `tokens_evaluated` and `timings`. No [DONE].
 * - 'openai-completions' / 'openai-chat': POST /v1/completions and /v1/chat/completions, `data: [DONE]` at
 *   the end. `usage` is read from ANY chunk, independently of `choices`: llama.cpp puts it in the last
 *   choices chunk, vLLM in a separate `choices: []` chunk (metrics.md trap 6).
 *
 * Tokens per content event: llama.cpp's `tokens` array length; for OpenAI chunks the logprobs token list
 * or the growth of a cumulative `usage` (vLLM continuous_usage_stats) when present, else 1. A chunk that
 * bundles several tokens without saying so (speculative decoding, SGLang --stream-interval) is therefore
 * counted as 1: the counted total is then below usage.completion_tokens, the summary flags the mismatch and
 * the output count comes from usage, never from the chunk count.
 */

export type WireProtocol = 'llamacpp-completion' | 'openai-completions' | 'openai-chat'

export const protocolPaths: Record<WireProtocol, string> = {
  'llamacpp-completion': '/completion',
  'openai-completions': '/v1/completions',
  'openai-chat': '/v1/chat/completions',
}

/** llama-server's own timing of one request (the final event's `timings`), in its own (server) clock. */
export interface LlamaServerTimings {
  promptTokens: number
  promptMs: number
  /** Counts the FIRST generated token too, while predictedMs spans first -> last token (see decodeTokensPerSecond). */
  predictedTokens: number
  predictedMs: number
  cachedTokens: number | null
  draftTokens: number | null
  draftAccepted: number | null
}

/** What the client yields: the engine-facing StreamEvent, plus llama-server's timings for whoever wants them. */
export type ClientEvent = StreamEvent | {kind: 'server-timings'; timings: LlamaServerTimings}

/**
 * The server's decode speed without its off-by-one: predicted_n counts the first token, whose time is in
 * prompt_ms, so predicted_per_second = n / t is biased high by n / (n - 1). Corrected: (n - 1) / t.
 * null when fewer than 2 tokens were generated.
 */
export function decodeTokensPerSecond(timings: LlamaServerTimings): number | null {
  if (timings.predictedTokens < 2 || timings.predictedMs <= 0) return null
  return ((timings.predictedTokens - 1) * 1000) / timings.predictedMs
}

export interface RequestBodyOptions {
  /** Model id for OpenAI endpoints (required by most; llama-server ignores it). */
  model?: string
  seed?: number
  /**
   * Send the non-OpenAI extensions that fix the workload: ignore_eos, min_tokens (vLLM) and
   * cache_prompt: false (llama.cpp). Servers ignore fields they do not know (llama.cpp, vLLM, SGLang); a
   * strict hosted API rejects them, so it is switchable. Default true.
   */
  serverExtensions?: boolean
  /** Extra fields merged last (the user's own engine-specific parameters). */
  extraBody?: Record<string, unknown>
}

/** The JSON body for one request in a protocol. */
export function requestBody(protocol: WireProtocol, request: GenRequest, options: RequestBodyOptions = {}): Record<string, unknown> {
  const extensions = options.serverExtensions ?? true
  const prompt = request.promptTokens ?? request.promptText ?? ''
  const seed = options.seed === undefined ? {} : {seed: options.seed}
  if (protocol === 'llamacpp-completion') {
    return {
      prompt,
      n_predict: request.maxTokens,
      ignore_eos: request.ignoreEos,
      // llama.cpp reuses a slot's KV prefix by default; a benchmark must not (metrics.md trap 1).
      cache_prompt: false,
      // Older builds only list the token ids of each event when asked; they give the tokens per event.
      return_tokens: true,
      stream: true,
      ...seed,
      ...options.extraBody,
    }
  }
  const common = {
    ...(options.model === undefined ? {} : {model: options.model}),
    max_tokens: request.maxTokens,
    stream: true,
    stream_options: {include_usage: true},
    ...(extensions ? {ignore_eos: request.ignoreEos, min_tokens: request.maxTokens, cache_prompt: false} : {}),
    ...seed,
  }
  if (protocol === 'openai-chat') {
    return {...common, messages: [{role: 'user', content: request.promptText ?? ''}], ...options.extraBody}
  }
  return {...common, prompt, ...options.extraBody}
}

// ------------------------------------------------------------------------------------- interpretation

type JsonObject = Record<string, unknown>

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value)
const numberOr = (value: unknown, fallback: number | null): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : fallback
/**
 * A token count or a duration the server reports, used only when it is one (a non-negative safe integer /
 * finite number): a usage of 1.5 or -1 tokens would otherwise reach the request record, and the result
 * schema would then refuse the whole file.
 */
const countOr = (value: unknown, fallback: number | null): number | null =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : fallback
const durationOr = (value: unknown, fallback: number | null): number | null => {
  const number = numberOr(value, null)
  return number !== null && number >= 0 ? number : fallback
}

/** Usage from a completion and a prompt count; null when either is present but not a count. */
function usageOf(completion: unknown, prompt: unknown): {promptTokens: number; completionTokens: number} | null {
  const completionTokens = countOr(completion, null)
  // A missing prompt count is 0 (as before); a present one that is not a count discredits the whole usage.
  const promptTokens = prompt === undefined || prompt === null ? 0 : countOr(prompt, null)
  return completionTokens === null || promptTokens === null ? null : {promptTokens, completionTokens}
}

/** The message of an error object in any of the shapes servers use (llama.cpp/OpenAI, vLLM, TGI, FastAPI). */
export function serverErrorMessage(body: unknown): string | null {
  if (!isObject(body)) return null
  const error = body.error
  if (typeof error === 'string') return error
  if (isObject(error)) {
    const message = typeof error.message === 'string' ? error.message : JSON.stringify(error)
    return typeof error.type === 'string' && error.type !== '' ? `${message} (${error.type})` : message
  }
  if (body.object === 'error' && typeof body.message === 'string') return body.message
  if (typeof body.detail === 'string') return body.detail
  return null
}

function excerpt(text: string, max = 200): string {
  const flat = text.replaceAll(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max)}…` : flat
}

/**
 * The per-request state machine that reads one protocol's SSE `data` payloads. Pure (no I/O): the client
 * feeds it messages and asks it, when the body ends, whether the stream was complete.
 */
export class StreamInterpreter {
  /** Content events yielded and the tokens they carried. */
  contentEvents = 0
  countedTokens = 0
  /** The stream reached its terminal event ([DONE], or llama.cpp's stop: true). */
  done = false
  private finishSeen = false
  private usage: {promptTokens: number; completionTokens: number} | null = null
  /** Last cumulative completion_tokens seen in a content chunk (vLLM continuous_usage_stats). */
  private cumulativeCompletion = 0
  private continuousUsage = false

  constructor(readonly protocol: WireProtocol) {}

  /** Events for one SSE message; `end` = stop reading (terminal event or error). */
  onMessage(data: string, atMs: number): {events: ClientEvent[]; end: boolean} {
    if (this.done) return {events: [], end: true}
    if (data.trim() === '[DONE]') {
      this.done = true
      return {events: [], end: true}
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(data)
    } catch {
      return this.fail(`Malformed stream event (not JSON) after ${this.contentEvents} content event(s): ${excerpt(data)}`)
    }
    if (!isObject(parsed)) return this.fail(`Malformed stream event (not a JSON object): ${excerpt(data)}`)
    const serverError = serverErrorMessage(parsed)
    if (serverError !== null) {
      return this.fail(`The server reported an error inside the stream after ${this.contentEvents} content event(s): ${serverError}`)
    }
    return this.protocol === 'llamacpp-completion' ? this.onLlamaEvent(parsed, atMs) : this.onOpenAiChunk(parsed, atMs)
  }

  /** What to yield once the body has ended: the usage of a complete stream, or why it is incomplete. */
  finish(): ClientEvent[] {
    // Tolerated: an OpenAI-style server that closes after the finish_reason and usage without [DONE]
    // has still delivered the whole generation.
    const complete = this.done || (this.protocol !== 'llamacpp-completion' && this.finishSeen && this.usage !== null)
    if (!complete) {
      const end = this.protocol === 'llamacpp-completion' ? 'the final event (stop: true)' : 'data: [DONE]'
      return [
        {
          kind: 'error',
          errorKind: 'dropped',
          message: `The connection closed before ${end}, after ${this.contentEvents} content event(s).`,
        },
      ]
    }
    return this.usage === null ? [] : [{kind: 'usage', ...this.usage}]
  }

  private fail(message: string): {events: ClientEvent[]; end: boolean} {
    return {events: [{kind: 'error', errorKind: 'stream-error', message}], end: true}
  }

  private content(atMs: number, tokens: number, text: string): ClientEvent {
    this.contentEvents++
    this.countedTokens += tokens
    return {kind: 'content', atMs, tokens, text}
  }

  private onLlamaEvent(event: JsonObject, atMs: number): {events: ClientEvent[]; end: boolean} {
    const events: ClientEvent[] = []
    const text = typeof event.content === 'string' ? event.content : ''
    const ids = Array.isArray(event.tokens) ? event.tokens.length : null
    // The final event has content "" and tokens []: not content. An event whose text is held back (an
    // incomplete UTF-8 piece) still carries its token id and counts.
    if ((ids ?? 0) > 0 || text !== '') events.push(this.content(atMs, ids !== null && ids > 0 ? ids : 1, text))
    if (event.stop === true) {
      this.done = true
      const usage = usageOf(event.tokens_predicted, event.tokens_evaluated)
      if (usage !== null) this.usage = usage
      const timings = parseLlamaTimings(event.timings)
      if (timings !== null) events.push({kind: 'server-timings', timings})
    }
    return {events, end: this.done}
  }

  private onOpenAiChunk(chunk: JsonObject, atMs: number): {events: ClientEvent[]; end: boolean} {
    const events: ClientEvent[] = []
    let usageGrowth: number | null = null
    if (isObject(chunk.usage)) {
      const usage = usageOf(chunk.usage.completion_tokens, chunk.usage.prompt_tokens)
      if (usage !== null) {
        this.usage = usage
        usageGrowth = usage.completionTokens - this.cumulativeCompletion
      }
    }
    const choice = Array.isArray(chunk.choices) && isObject(chunk.choices[0]) ? chunk.choices[0] : null
    if (choice !== null) {
      const finished = choice.finish_reason !== null && choice.finish_reason !== undefined
      if (finished) this.finishSeen = true
      // Usage on a chunk that is not the last = cumulative per-chunk usage (vLLM continuous_usage_stats);
      // llama.cpp's one usage rides on the finishing chunk and is the total, not this chunk's share.
      if (usageGrowth !== null && !finished) this.continuousUsage = true
      const {text, role, logprobTokens} = this.protocol === 'openai-chat' ? chatDelta(choice) : completionText(choice)
      const tokens = logprobTokens ?? (this.continuousUsage && usageGrowth !== null && usageGrowth > 0 ? usageGrowth : null)
      // Empty text is content only with evidence of a token (logprobs / usage growth): a role-only or
      // finish-only chunk must not start the TTFT clock.
      if (text !== null && role === null && (text !== '' || (tokens !== null && tokens > 0))) {
        events.push(this.content(atMs, tokens ?? 1, text))
        if (usageGrowth !== null && usageGrowth > 0) this.cumulativeCompletion += usageGrowth
      }
    }
    if (isObject(chunk.timings)) {
      const timings = parseLlamaTimings(chunk.timings)
      if (timings !== null) events.push({kind: 'server-timings', timings})
    }
    return {events, end: false}
  }
}

function completionText(choice: JsonObject): {text: string | null; role: null; logprobTokens: number | null} {
  const logprobs = choice.logprobs
  const count = isObject(logprobs) && Array.isArray(logprobs.tokens) ? logprobs.tokens.length : null
  return {text: typeof choice.text === 'string' ? choice.text : null, role: null, logprobTokens: count !== null && count > 0 ? count : null}
}

function chatDelta(choice: JsonObject): {text: string | null; role: string | null; logprobTokens: number | null} {
  const delta = isObject(choice.delta) ? choice.delta : {}
  const pieces = [delta.content, delta.reasoning_content, delta.reasoning].filter((p): p is string => typeof p === 'string')
  const text = pieces.length > 0 ? pieces.join('') : null
  // A role announcement with text is still content (some servers put the first token there).
  const role = typeof delta.role === 'string' && (text === null || text === '') ? delta.role : null
  const logprobs = choice.logprobs
  const count = isObject(logprobs) && Array.isArray(logprobs.content) ? logprobs.content.length : null
  return {text, role, logprobTokens: count !== null && count > 0 ? count : null}
}

function parseLlamaTimings(value: unknown): LlamaServerTimings | null {
  if (!isObject(value)) return null
  const predictedTokens = countOr(value.predicted_n, null)
  const predictedMs = durationOr(value.predicted_ms, null)
  if (predictedTokens === null || predictedMs === null) return null
  return {
    promptTokens: countOr(value.prompt_n, 0) ?? 0,
    promptMs: durationOr(value.prompt_ms, 0) ?? 0,
    predictedTokens,
    predictedMs,
    cachedTokens: countOr(value.cache_n, null),
    draftTokens: countOr(value.draft_n, null),
    draftAccepted: countOr(value.draft_n_accepted, null),
  }
}

// -------------------------------------------------------------------------------------------- transport

/**
 * How the request travels. 'fetch' (the default): Node's fetch (undici). 'node-http': node:http(s) with
 * each read stamped inside the socket's own 'data' callback, before any web-stream or promise machinery.
 * Same events and error kinds (test/unit/load/stream-node-http.test.ts). Measured with
 * bench/loadgen-bench.js --transport on the shared 2-core VM (64 streams x 10 ms, load ~3.5): ITL error p99
 * 3.1-3.4 ms vs 6.6-12.6 ms with fetch, ~25-35 instead of ~45-50 us of client CPU per paced event, fewer GC
 * pauses; at the 256-stream ceiling ~5% more CPU per token (both far above the 100k tok/s target).
 * Not followed by node-http: redirects (fetch follows them).
 */
export type HttpTransport = 'fetch' | 'node-http'

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

/** One read of a response body and the monotonic time its bytes reached JavaScript. */
interface TimedRead {
  done: boolean
  value: Uint8Array | undefined
  atMs: number
}

/** What streamRequest needs of a response, whichever transport brought it. */
interface OpenedResponse {
  status: number
  statusText: string
  contentType: string
  /** Next body read; rejects with the transport's error (reset, abort). */
  read(): Promise<TimedRead>
  /** Stop reading (the rest of the body is not wanted); never throws. */
  cancel(): void
}

/** Up to `limit` characters of a body, for error messages; never throws. */
async function readTextLimited(response: OpenedResponse, limit = 8192): Promise<string> {
  const decoder = new TextDecoder('utf-8', {fatal: false})
  let text = ''
  try {
    for (;;) {
      const {done, value} = await response.read()
      if (done || value === undefined) break
      text += decoder.decode(value, {stream: true})
      if (text.length > limit) break
    }
    text += decoder.decode()
  } catch {
    // Whatever arrived before the failure is the best detail there is.
  } finally {
    response.cancel()
  }
  return text.length > limit ? text.slice(0, limit) : text
}

/**
 * fetch's body as OpenedResponse. Each read is stamped in the microtask where it resolves (the earliest
 * moment JS sees the bytes through fetch) and the next read is asked for at once, before the caller parses
 * this one: a fetch body only pulls from the socket while a read is pending.
 */
function fetchResponse(response: Response, clock: () => number): OpenedResponse {
  const reader = response.body?.getReader() ?? null
  const timedRead = (): Promise<TimedRead> => {
    if (reader === null) return Promise.resolve({done: true, value: undefined, atMs: clock()})
    const pending = reader.read().then((read) => ({done: read.done, value: read.value, atMs: clock()}))
    pending.catch(() => {}) // awaited by read(); this only keeps an abandoned read from being "unhandled"
    return pending
  }
  let next: Promise<TimedRead> | null = null
  let finished = false
  return {
    status: response.status,
    statusText: response.statusText,
    contentType: response.headers.get('content-type') ?? '',
    read: async () => {
      const current = await (next ?? timedRead())
      next = current.done ? null : timedRead()
      if (current.done) finished = true
      return current
    },
    cancel: () => {
      if (!finished && reader !== null) reader.cancel().catch(() => {})
      finished = true
    },
  }
}

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
      this.queuedBytes += chunk.length
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
    if (waiter === null) this.queue.push(read)
    else waiter.resolve(read)
  }
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
function nodeHttpPost(url: URL, headers: Record<string, string>, body: string, keepAlive: boolean, signal: AbortSignal, clock: () => number): Promise<OpenedResponse> {
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

/** `HTTP 400 Bad Request: <the server's own error message>`. */
export function httpErrorMessage(status: number, statusText: string, bodyText: string): string {
  let detail: string | null = null
  try {
    detail = serverErrorMessage(JSON.parse(bodyText))
  } catch {
    detail = null
  }
  detail ??= excerpt(bodyText)
  const head = `HTTP ${status}${statusText === '' ? '' : ` ${statusText}`}`
  return detail === '' ? head : `${head}: ${detail}`
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

/**
 * Send one streaming request and yield its events. Always ends with either a usage event (complete
 * stream; absent when the server reports none) or exactly one error event; never throws. Stopping the
 * iteration early (break/return) aborts the HTTP request.
 */
export async function* streamRequest(options: StreamRequestOptions): AsyncGenerator<ClientEvent> {
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
      let detail: string | null = null
      try {
        detail = serverErrorMessage(JSON.parse(text))
      } catch {
        detail = null
      }
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
      for (let ended = false; !ended; ) {
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

/** Only the engine-facing events (drops llama-server timings), for Engine.stream(). */
export async function* engineEvents(
  events: AsyncIterable<ClientEvent>,
  onServerTimings?: (timings: LlamaServerTimings) => void,
): AsyncGenerator<StreamEvent> {
  for await (const event of events) {
    if (event.kind === 'server-timings') onServerTimings?.(event.timings)
    else yield event
  }
}
