import {ChunkScanner} from './chunk-scanner.js'
import {type ClientEvent, excerpt, isObject, type JsonObject, type LlamaServerTimings, serverErrorMessage, type WireProtocol} from './protocols.js'

/**
 * Tokens per content event: llama.cpp's `tokens` array length; for OpenAI chunks the logprobs token list
 * or the growth of a cumulative `usage` (vLLM continuous_usage_stats) when present, else 1. A chunk that
 * bundles several tokens without saying so (speculative decoding, SGLang --stream-interval) is therefore
 * counted as 1: the counted total is then below usage.completion_tokens, the summary flags the mismatch and
 * the output count comes from usage, never from the chunk count.
 */

const numberOr = (value: unknown, fallback: number | null): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : fallback)
/**
 * A token count or a duration the server reports, used only when it is one (a non-negative safe integer /
 * finite number): a usage of 1.5 or -1 tokens would otherwise reach the request record, and the result
 * schema would then refuse the whole file.
 */
const countOr = (value: unknown, fallback: number | null): number | null => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : fallback)
const durationOr = (value: unknown, fallback: number | null): number | null => {
  const number = numberOr(value, null)
  return number !== null && number >= 0 ? number : fallback
}

/**
 * Whether interpreters read content chunks with the ChunkScanner (chunk-scanner.ts) before falling back to
 * JSON.parse. Process-wide, default OFF: measured against JSON.parse (perf/README.md, "A chunk scanner instead
 * of JSON.parse") it saved ~2% of the client's allocations per event and cost more CPU than V8's JSON.parse,
 * with no ITL gain at 256 streams, so it did not become the default. CAPPLAN_CHUNK_SCANNER=1 in the
 * environment (read once, when this module loads; client threads inherit it) or setChunkScanner(true) turns
 * it on: perf/loadgen-bench.ts --scanner-ab does, for its on/off A/B. Either way the events are the same (the
 * scanner declines whatever it is not sure of).
 */
let scannerEnabled = process.env['CAPPLAN_CHUNK_SCANNER'] === '1'

/** One scanner for every interpreter of this thread: onMessage is synchronous, a scan never overlaps another. */
const sharedScanner = new ChunkScanner()

/** Turn the chunk scanner on or off for interpreters created from now on (perf's A/B); returns the previous setting. */
export function setChunkScanner(enabled: boolean): boolean {
  const previous = scannerEnabled
  scannerEnabled = enabled
  return previous
}

export function chunkScannerEnabled(): boolean {
  return scannerEnabled
}

/** Usage from a completion and a prompt count; null when either is present but not a count. */
function usageOf(completion: unknown, prompt: unknown): {promptTokens: number; completionTokens: number} | null {
  const completionTokens = countOr(completion, null)
  // A missing prompt count is 0 (as before); a present one that is not a count discredits the whole usage.
  const promptTokens = prompt === undefined || prompt === null ? 0 : countOr(prompt, null)
  return completionTokens === null || promptTokens === null ? null : {promptTokens, completionTokens}
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
  /** Prompt tokens the server served from its cache: llama.cpp timings.cache_n, OpenAI usage.prompt_tokens_details.cached_tokens. */
  private cachedTokens: number | null = null
  /** Last cumulative completion_tokens seen in a content chunk (vLLM continuous_usage_stats). */
  private cumulativeCompletion = 0
  private continuousUsage = false

  /** The fast path (null = off): reads a content chunk's fields without JSON.parse, or declines. */
  private readonly scanner: ChunkScanner | null = scannerEnabled ? sharedScanner : null

  constructor(readonly protocol: WireProtocol) {}

  /** Events for one SSE message; `end` = stop reading (terminal event or error). */
  onMessage(data: string, atMs: number): {events: ClientEvent[]; end: boolean} {
    if (this.done) return {events: [], end: true}
    if (data.trim() === '[DONE]') {
      this.done = true
      return {events: [], end: true}
    }
    const scanner = this.scanner
    if (scanner !== null && scanner.scan(this.protocol, data)) {
      // The scanner read a plain content chunk (no usage, timings, logprobs, error or final event).
      if (this.protocol === 'llamacpp-completion') return this.llamaContent(scanner.text ?? '', scanner.ids < 0 ? null : scanner.ids, atMs)
      const events: ClientEvent[] = []
      if (scanner.hasChoice) this.onChoice(events, atMs, scanner.finished, scanner.text, roleOnly(scanner.roleIsString, scanner.text), null, null)
      return {events, end: false}
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
    if (this.usage === null) return []
    return [{kind: 'usage', ...this.usage, ...(this.cachedTokens === null ? {} : {cachedTokens: this.cachedTokens})}]
  }

  private fail(message: string): {events: ClientEvent[]; end: boolean} {
    return {events: [{kind: 'error', errorKind: 'stream-error', message}], end: true}
  }

  private content(atMs: number, tokens: number, text: string): ClientEvent {
    this.contentEvents++
    this.countedTokens += tokens
    return {kind: 'content', atMs, tokens, text}
  }

  /** A llama.cpp event's content: `content` (a string, else '') and the `tokens` array's length (null: none). */
  private llamaContent(text: string, ids: number | null, atMs: number): {events: ClientEvent[]; end: boolean} {
    // The final event has content "" and tokens []: not content. An event whose text is held back (an
    // incomplete UTF-8 piece) still carries its token id and counts.
    if ((ids ?? 0) > 0 || text !== '') return {events: [this.content(atMs, ids !== null && ids > 0 ? ids : 1, text)], end: false}
    return {events: [], end: false}
  }

  private onLlamaEvent(event: JsonObject, atMs: number): {events: ClientEvent[]; end: boolean} {
    const text = typeof event.content === 'string' ? event.content : ''
    const ids = Array.isArray(event.tokens) ? event.tokens.length : null
    const {events} = this.llamaContent(text, ids, atMs)
    if (event.stop === true) {
      this.done = true
      const usage = usageOf(event.tokens_predicted, event.tokens_evaluated)
      if (usage !== null) this.usage = usage
      const timings = parseLlamaTimings(event.timings)
      if (timings !== null) events.push({kind: 'server-timings', timings})
      this.cachedTokens = timings?.cachedTokens ?? null
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
      const details = chunk.usage.prompt_tokens_details
      const cached = isObject(details) ? countOr(details.cached_tokens, null) : null
      if (cached !== null) this.cachedTokens = cached
    }
    const choice = Array.isArray(chunk.choices) && isObject(chunk.choices[0]) ? chunk.choices[0] : null
    if (choice !== null) {
      const finished = choice.finish_reason !== null && choice.finish_reason !== undefined
      const {text, roleOnly: role, logprobTokens} = this.protocol === 'openai-chat' ? chatDelta(choice) : completionText(choice)
      this.onChoice(events, atMs, finished, text, role, logprobTokens, usageGrowth)
    }
    if (isObject(chunk.timings)) {
      const timings = parseLlamaTimings(chunk.timings)
      if (timings !== null) events.push({kind: 'server-timings', timings})
      // llama-server's OpenAI endpoints carry its timings too; usage's cached_tokens, when given, wins.
      if (this.cachedTokens === null) this.cachedTokens = timings?.cachedTokens ?? null
    }
    return {events, end: false}
  }

  /**
   * The first choice of an OpenAI chunk, from either path: whether it finished, its text (null: none),
   * whether it only announces a role, the logprobs token count and this chunk's cumulative-usage growth.
   */
  private onChoice(
    events: ClientEvent[],
    atMs: number,
    finished: boolean,
    text: string | null,
    roleAnnouncement: boolean,
    logprobTokens: number | null,
    usageGrowth: number | null,
  ): void {
    if (finished) this.finishSeen = true
    // Usage on a chunk that is not the last = cumulative per-chunk usage (vLLM continuous_usage_stats);
    // llama.cpp's one usage rides on the finishing chunk and is the total, not this chunk's share.
    if (usageGrowth !== null && !finished) this.continuousUsage = true
    const tokens = logprobTokens ?? (this.continuousUsage && usageGrowth !== null && usageGrowth > 0 ? usageGrowth : null)
    // Empty text is content only with evidence of a token (logprobs / usage growth): a role-only or
    // finish-only chunk must not start the TTFT clock.
    if (text !== null && !roleAnnouncement && (text !== '' || (tokens !== null && tokens > 0))) {
      events.push(this.content(atMs, tokens ?? 1, text))
      if (usageGrowth !== null && usageGrowth > 0) this.cumulativeCompletion += usageGrowth
    }
  }
}

/** A role announcement with text is still content (some servers put the first token there). */
const roleOnly = (roleIsString: boolean, text: string | null): boolean => roleIsString && (text === null || text === '')

function completionText(choice: JsonObject): {text: string | null; roleOnly: false; logprobTokens: number | null} {
  const logprobs = choice.logprobs
  const count = isObject(logprobs) && Array.isArray(logprobs.tokens) ? logprobs.tokens.length : null
  return {text: typeof choice.text === 'string' ? choice.text : null, roleOnly: false, logprobTokens: count !== null && count > 0 ? count : null}
}

function chatDelta(choice: JsonObject): {text: string | null; roleOnly: boolean; logprobTokens: number | null} {
  const delta = isObject(choice.delta) ? choice.delta : {}
  const pieces = [delta.content, delta.reasoning_content, delta.reasoning].filter((p): p is string => typeof p === 'string')
  const text = pieces.length > 0 ? pieces.join('') : null
  const role = roleOnly(typeof delta.role === 'string', text)
  const logprobs = choice.logprobs
  const count = isObject(logprobs) && Array.isArray(logprobs.content) ? logprobs.content.length : null
  return {text, roleOnly: role, logprobTokens: count !== null && count > 0 ? count : null}
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
