import {CapplanError, EngineError, invalidInput} from '../lib/errors.js'
import {redactSecrets} from '../lib/redact.js'
import {getJson, type JsonResponse} from './http/json.js'
import {type LlamaServerTimings, protocolPaths, requestBody, serverErrorMessage, type WireProtocol} from './http/protocols.js'
import {DEFAULT_REQUEST_TIMEOUT_MS, streamRequest, toEngineEvent} from './http/stream.js'
import type {HttpTransport} from './http/transport.js'
import {PROMPT_POOL_TEXT} from './prompt-pool.js'
import type {Engine, EngineInfo, GenRequest, StreamEvent} from './types.js'

/**
 * `--engine openai`: an OpenAI-compatible server that is ALREADY running (SGLang, TGI, Ollama, vLLM started
 * by someone else, a Kubernetes service, a hosted API). capplan starts and stops nothing; it checks the
 * endpoint answers GET /v1/models, picks the model, and streams /v1/completions (token-id prompts) or
 * /v1/chat/completions (text prompts from a dataset).
 *
 * The API key is read from the environment variable NAMED by apiKeyEnv at start(): the name may appear in
 * the result file, the value never does (not in info(), not in any message).
 */

export interface OpenAiEngineOptions {
  /** Base URL, e.g. http://10.0.0.5:8000 (a trailing /v1 is accepted). */
  endpoint: string
  /** Model id to request; default: the first id GET /v1/models lists. */
  model?: string
  /** Name of the environment variable holding the API key (sent as `Authorization: Bearer`). */
  apiKeyEnv?: string
  /** 'completions' (default; takes token-id prompts) or 'chat' (text prompts only). */
  api?: 'completions' | 'chat'
  /** Per-request limit in ms; null = none. Default 10 minutes. */
  requestTimeoutMs?: number | null
  /** Send ignore_eos / min_tokens / cache_prompt (see RequestBodyOptions). Default true. */
  serverExtensions?: boolean
  /** Extra JSON fields for every request body. */
  extraBody?: Record<string, unknown>
  /** GPUs behind the endpoint, as the user states it (the cost model multiplies by it); default 0 = unknown. */
  gpuCount?: number
  /** Limit for the start() checks. Default 15 s. */
  checkTimeoutMs?: number
  /** llama-server-compatible endpoints report their own timings; called once per finished request. */
  onServerTimings?: (timings: LlamaServerTimings) => void
  /** Something the user should know (parts of --endpoint that are ignored); bench prints it as a warning. */
  onNote?: (message: string) => void
  /**
   * How the streams travel (HttpTransport). Default 'node-http': each read stamped in the socket's own 'data'
   * callback. fetch's web-stream reads stamp two chunks of a stall at one instant (a 0 ms gap then a double
   * one: perf/README.md "ITL timing error"); kept for comparison (perf/loadgen-bench.ts --transport fetch).
   */
  transport?: HttpTransport
}

/** "http://host:8000/v1/" -> "http://host:8000"; throws INVALID_INPUT for anything that is not http(s). */
export function normalizeEndpoint(endpoint: string): string {
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    throw invalidInput(`--endpoint ${redactSecrets(endpoint)} is not a URL.`, 'Pass the server base URL, e.g. --endpoint http://127.0.0.1:8000')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidInput(`--endpoint must be an http(s) URL, got ${url.protocol}//.`, 'Pass e.g. --endpoint http://127.0.0.1:8000')
  }
  const path = url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '')
  return `${url.origin}${path}`
}

/**
 * The warning for the parts of --endpoint that normalizeEndpoint drops and so never sends: user:password@ and
 * ?query (#fragment too), where people paste credentials. Names no part of them (a bare "?sk-..." query is all
 * key). null when nothing is dropped, or when the URL does not parse (normalizeEndpoint reports that).
 */
export function ignoredEndpointParts(endpoint: string): string | null {
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    return null
  }
  const dropped = [
    ...(url.username !== '' || url.password !== '' ? ['credentials (user:password@)'] : []),
    ...(url.search !== '' ? ['a query string (?...)'] : []),
    ...(url.hash !== '' ? ['a fragment (#...)'] : []),
  ]
  if (dropped.length === 0) return null
  return (
    `--endpoint holds ${dropped.join(' and ')}: capplan ignores ${dropped.length === 1 ? 'it' : 'them'} and sends ${dropped.length === 1 ? 'it' : 'them'} nowhere ` +
    '(values not shown). An API key belongs in an environment variable whose name you pass with --api-key-env NAME (sent as Authorization: Bearer).'
  )
}

/** The API key from the named environment variable; throws INVALID_INPUT when it is unset or empty. */
export function readApiKey(apiKeyEnv: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  if (apiKeyEnv === undefined) return null
  const value = env[apiKeyEnv]
  if (value === undefined || value.trim() === '') {
    throw invalidInput(
      `--api-key-env names ${apiKeyEnv}, but that environment variable is ${value === undefined ? 'not set' : 'empty'}.`,
      `Export the key first (export ${apiKeyEnv}=...), or leave out --api-key-env for a server without authentication.`,
    )
  }
  return value.trim()
}

/** GET a JSON document from the endpoint, asking for JSON in `accept`. */
const getEndpointJson = (url: string, headers: Record<string, string>, timeoutMs: number): Promise<JsonResponse> =>
  getJson(url, {accept: 'application/json', ...headers}, timeoutMs)

function causeOf(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as {code?: unknown}).code
    parts.push(typeof code === 'string' ? `${current.message} (${code})` : current.message)
    current = (current as {cause?: unknown}).cause
  }
  return parts.join(': ') || String(error)
}

export class OpenAiEngine implements Engine {
  readonly endpoint: string
  private apiKey: string | null = null
  private model: string | null = null
  private serverVersion: string | null = null
  private ownedBy: string | null = null
  private started = false
  private tokenPool: number[] | null = null

  constructor(readonly options: OpenAiEngineOptions) {
    this.endpoint = normalizeEndpoint(options.endpoint)
    const ignored = ignoredEndpointParts(options.endpoint)
    if (ignored !== null) options.onNote?.(ignored)
    if (options.gpuCount !== undefined && (!Number.isInteger(options.gpuCount) || options.gpuCount < 0)) {
      throw invalidInput(`The GPU count behind the endpoint must be a whole number >= 0, got ${options.gpuCount}.`, 'Pass e.g. --gpus 1.')
    }
  }

  private get protocol(): WireProtocol {
    return this.options.api === 'chat' ? 'openai-chat' : 'openai-completions'
  }

  private headers(): Record<string, string> {
    return this.apiKey === null ? {} : {authorization: `Bearer ${this.apiKey}`}
  }

  /** The key for the /metrics scrape too (an endpoint that demands it on /v1 usually does there). */
  requestHeaders(): Record<string, string> {
    return this.headers()
  }

  private secrets(): string[] {
    return this.apiKey === null ? [] : [this.apiKey]
  }

  async start(): Promise<void> {
    this.apiKey = readApiKey(this.options.apiKeyEnv)
    const modelsUrl = `${this.endpoint}/v1/models`
    const command = `GET ${modelsUrl}`
    const timeoutMs = this.options.checkTimeoutMs ?? 15_000
    let answer: JsonResponse
    try {
      answer = await getEndpointJson(modelsUrl, this.headers(), timeoutMs)
    } catch (error) {
      throw new EngineError(
        `Cannot reach the OpenAI-compatible endpoint ${this.endpoint}: ${redactSecrets(causeOf(error), this.secrets())}.`,
        'Check --endpoint (scheme, host, port) and that the server is running and reachable from this machine.',
        command,
      )
    }
    if (answer.status === 401 || answer.status === 403) {
      throw new EngineError(
        this.apiKey === null
          ? `${this.endpoint} requires authentication (HTTP ${answer.status} on /v1/models).`
          : `${this.endpoint} rejected the API key from $${this.options.apiKeyEnv} (HTTP ${answer.status} on /v1/models).`,
        this.apiKey === null ? 'Put the key in an environment variable and pass its name with --api-key-env NAME.' : `Check the value of $${this.options.apiKeyEnv}.`,
        command,
      )
    }
    if (answer.status !== 200) {
      const detail = serverErrorMessage(answer.body) ?? answer.text.slice(0, 200)
      throw new EngineError(
        `${modelsUrl} answered HTTP ${answer.status} ${answer.statusText}${detail === '' ? '' : `: ${redactSecrets(detail, this.secrets())}`}.`,
        'Check that --endpoint points at an OpenAI-compatible server (it must serve GET /v1/models).',
        command,
      )
    }
    const data = (answer.body as {data?: unknown} | null)?.data
    const models = Array.isArray(data)
      ? data.filter((m): m is {id: string; owned_by?: unknown} => typeof m === 'object' && m !== null && typeof (m as {id?: unknown}).id === 'string')
      : []
    if (this.options.model === undefined) {
      const first = models[0]
      if (first === undefined) {
        throw new EngineError(
          `${modelsUrl} lists no model, so capplan cannot tell which one to request.`,
          'Pass the model id with --model-id (the name the server expects in "model").',
          command,
        )
      }
      this.model = first.id
    } else {
      this.model = this.options.model
      if (models.length > 0 && !models.some((m) => m.id === this.model)) {
        const ids = models.map((m) => m.id)
        throw new EngineError(
          `${this.endpoint} does not serve the model "${this.model}"; it lists: ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? `, … (${ids.length})` : ''}.`,
          'Pass one of the listed ids, or leave the model id out to use the first one.',
          command,
        )
      }
    }
    const owner = models.find((m) => m.id === this.model)?.owned_by
    this.ownedBy = typeof owner === 'string' ? owner : null
    this.serverVersion = await this.probeVersion(Math.min(timeoutMs, 5000))
    this.started = true
  }

  /** vLLM answers GET /version {"version": "0.x"}; other servers do not, which is fine. */
  private async probeVersion(timeoutMs: number): Promise<string | null> {
    try {
      const answer = await getEndpointJson(`${this.endpoint}/version`, this.headers(), timeoutMs)
      const version = (answer.body as {version?: unknown} | null)?.version
      return answer.status === 200 && typeof version === 'string' ? version : null
    } catch {
      return null
    }
  }

  info(): EngineInfo {
    if (!this.started || this.model === null) {
      throw new CapplanError('ENGINE_FAILURE', 'The openai engine was used before start().', 'This is a bug in capplan.')
    }
    return {
      kind: 'openai',
      version: this.serverVersion,
      build: null,
      // What runs behind an endpoint is not observable from here.
      backend: 'remote',
      threads: null,
      gpuCount: this.options.gpuCount ?? 0,
      args: [
        `model=${this.model}`,
        `api=${protocolPaths[this.protocol]}`,
        ...(this.ownedBy === null ? [] : [`owned_by=${this.ownedBy}`]),
        ...(this.options.apiKeyEnv === undefined ? [] : [`apiKeyEnv=${this.options.apiKeyEnv}`]),
        `serverExtensions=${String(this.options.serverExtensions ?? true)}`,
        ...(this.options.extraBody === undefined ? [] : [`extraBody=${JSON.stringify(this.options.extraBody)}`]),
      ],
      endpoint: redactSecrets(this.endpoint),
    }
  }

  /**
   * Ordinary token ids for synthetic prompts: the server's own tokenizer (POST /tokenize, which llama.cpp and
   * vLLM offer; `content` is llama.cpp's field, `prompt` vLLM's) applied to a list of common words, so no id
   * is a special token. A server without /tokenize cannot take synthetic prompts: --dataset is required.
   */
  async promptTokenPool(): Promise<number[]> {
    if (this.tokenPool !== null) return this.tokenPool
    const url = `${this.endpoint}/tokenize`
    let tokens: unknown = null
    let status = 0
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {'content-type': 'application/json', ...this.headers()},
        body: JSON.stringify({model: this.model, prompt: PROMPT_POOL_TEXT, content: PROMPT_POOL_TEXT, add_special_tokens: false}),
        signal: AbortSignal.timeout(30_000),
      })
      status = response.status
      tokens = ((await response.json()) as {tokens?: unknown} | null)?.tokens ?? null
    } catch {
      tokens = null
    }
    // llama.cpp may answer {id, piece} objects when asked for pieces; plain ids are the default.
    if (!Array.isArray(tokens) || tokens.length === 0 || !tokens.every((t) => Number.isInteger(t) && (t as number) >= 0)) {
      throw invalidInput(
        `${this.endpoint} offers no usable POST /tokenize (${status === 0 ? 'no answer' : `HTTP ${status}`}), so capplan cannot build synthetic token-id prompts for it.`,
        'Pass text prompts with --dataset FILE.jsonl (one {"prompt": "..."} per line).',
      )
    }
    this.tokenPool = [...new Set(tokens as number[])].sort((a, b) => a - b)
    return this.tokenPool
  }

  async *stream(request: GenRequest, signal: AbortSignal): AsyncGenerator<StreamEvent> {
    if (!this.started || this.model === null) {
      yield {kind: 'error', errorKind: 'engine', message: 'The openai engine was used before start().'}
      return
    }
    if (this.protocol === 'openai-chat' && request.promptText === null) {
      yield {
        kind: 'error',
        errorKind: 'engine',
        message: 'The chat API takes text prompts only; token-id prompts need the completions API (--api completions).',
      }
      return
    }
    const events = streamRequest({
      url: `${this.endpoint}${protocolPaths[this.protocol]}`,
      protocol: this.protocol,
      body: requestBody(this.protocol, request, {
        model: this.model,
        serverExtensions: this.options.serverExtensions,
        extraBody: this.options.extraBody,
      }),
      headers: this.headers(),
      secrets: this.secrets(),
      signal,
      timeoutMs: this.options.requestTimeoutMs === undefined ? DEFAULT_REQUEST_TIMEOUT_MS : this.options.requestTimeoutMs,
      transport: this.options.transport ?? 'node-http',
    })
    // One loop, no generator in between (toEngineEvent): each layer costs promises per streamed event.
    for await (const event of events) {
      const engineEvent = toEngineEvent(event, this.options.onServerTimings)
      if (engineEvent !== null) yield engineEvent
    }
  }

  async stop(): Promise<void> {
    // Nothing was started; forget the key so it does not outlive the run in memory longer than needed.
    this.apiKey = null
    this.started = false
  }
}
