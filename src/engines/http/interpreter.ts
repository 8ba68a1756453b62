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
      // llama-server's OpenAI endpoints carry its timings too; usage's cached_tokens, when given, wins.
      if (this.cachedTokens === null) this.cachedTokens = timings?.cachedTokens ?? null
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
