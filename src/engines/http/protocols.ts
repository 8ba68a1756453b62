import type {GenRequest, StreamEvent} from '../types.js'

/**
 * The wire protocols capplan's client speaks: their paths, request bodies, llama-server's timings and the
 * error shapes servers answer with. Pure (no I/O).
 *
 * Protocols (see /work/shared/reference/protocols.md):
 * - 'llamacpp-completion': llama-server POST /completion. Each event carries `content` and `tokens` (the
 *   token ids of that event, so the server SAYS how many tokens it holds); the last has `stop: true`,
 *   `tokens_predicted`, `tokens_evaluated` and `timings`. No [DONE].
 * - 'openai-completions' / 'openai-chat': POST /v1/completions and /v1/chat/completions, `data: [DONE]` at
 *   the end. `usage` is read from ANY chunk, independently of `choices`: llama.cpp puts it in the last
 *   choices chunk, vLLM in a separate `choices: []` chunk (metrics.md trap 6).
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
      // llama.cpp reuses a slot's KV prefix by default; the control benchmark must not (metrics.md trap 1),
      // a shared-prefix / multi-turn / trace workload must (request.cachePrompt).
      cache_prompt: request.cachePrompt === true,
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
    ...(extensions ? {ignore_eos: request.ignoreEos, min_tokens: request.maxTokens, cache_prompt: request.cachePrompt === true} : {}),
    ...seed,
  }
  if (protocol === 'openai-chat') {
    return {...common, messages: [{role: 'user', content: request.promptText ?? ''}], ...options.extraBody}
  }
  return {...common, prompt, ...options.extraBody}
}

export type JsonObject = Record<string, unknown>

export const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value)

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

/** The message of an error body given as text (JSON in any shape serverErrorMessage knows); null otherwise. */
export function serverErrorMessageIn(text: string): string | null {
  try {
    return serverErrorMessage(JSON.parse(text))
  } catch {
    return null
  }
}

/** One line of at most `max` characters of a body, for messages. */
export function excerpt(text: string, max = 200): string {
  const flat = text.replaceAll(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max)}…` : flat
}

/** `HTTP 400 Bad Request: <the server's own error message>`. */
export function httpErrorMessage(status: number, statusText: string, bodyText: string): string {
  const detail = serverErrorMessageIn(bodyText) ?? excerpt(bodyText)
  const head = `HTTP ${status}${statusText === '' ? '' : ` ${statusText}`}`
  return detail === '' ? head : `${head}: ${detail}`
}
