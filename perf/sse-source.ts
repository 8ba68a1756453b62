#!/usr/bin/env node
// A local HTTP server that streams completions shaped EXACTLY like recorded llama-server bytes
// (test/fixtures/llama-server): POST /v1/completions as in v1_completions_stream.sse, POST /completion as in
// completion_stream_ids.sse. A TEST DOUBLE for load-generator measurements and fault injection, never a
// stand-in for a real engine's numbers: it does no inference, it sends bytes as fast as asked.
//
// One recorded content chunk of each protocol is the template: only the text, the token ids and the
// counters change; every other field (model, id, created, system_fingerprint ...) stays as recorded, and so
// does the final chunk (usage + timings) with the counts of THIS request. Chunk bytes are pre-encoded so
// the source costs little CPU next to the client it feeds.
//
//   node dist-perf/perf/sse-source.js [--host 127.0.0.1] [--port 0] [--interval-ms 0] [--tokens-per-chunk 1]
//                                     [--fail-rate 0] [--seed 1] [--failure-kinds http-500,drop,malformed,error-event]
//                                     [--stamp-times [--stamps-file FILE]]
//   with --stamp-times, GET /stamps answers {"streams": [{"maxTokens", "sentAt": ["<ms>", ...]}, ...]} (every
//   stream since the last GET /stamps, which empties the log): how a result file's chunk offsets are paired
//   with the send times when the client keeps no texts (`capplan bench` run as a process).
//   (from source: node --import tsx perf/sse-source.ts ...)
// prints ONE line {"url": "http://127.0.0.1:PORT"} when listening; on SIGTERM/SIGINT prints its stats JSON
// and exits 0.

import {readFileSync, writeFileSync} from 'node:fs'
import {createServer, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import {parseArgs} from 'node:util'

import {uniformRandom} from '../src/lib/random.js'
import {isMainModule, repoPath} from './paths.js'

export const FAILURE_KINDS = ['http-500', 'drop', 'malformed', 'error-event'] as const
export type FailureKind = (typeof FAILURE_KINDS)[number]
/** The two streaming routes the source serves (capplan's WireProtocol names). */
export type SourceProtocol = 'openai-completions' | 'llamacpp-completion'

/**
 * requests = completion requests received (a body that is not JSON is answered 500 and not counted);
 * completed + the failed counts = requests, except streams the CLIENT closed early (neither).
 * contentChunks / tokensSent count what was written, failing streams' partial content included.
 */
export interface SourceStats {
  requests: number
  completed: number
  failed: Record<FailureKind, number>
  contentChunks: number
  tokensSent: number
}

export interface SseSourceOptions {
  host?: string
  port?: number
  /** ms between content chunks; 0 = as fast as the socket drains. */
  intervalMs?: number
  tokensPerChunk?: number
  /** Share of completion requests that fail (0..1), decided in arrival order by the seeded generator. */
  failRate?: number
  seed?: number
  failureKinds?: readonly FailureKind[]
  /** Each content text is the chunk's send time, "t=<ms since the epoch>" (for ITL error measurements). */
  stampTimes?: boolean
}

/** One stream's send times as GET /stamps gives them: the same strings the content texts carry. */
export interface StampedStream {
  maxTokens: number
  sentAt: string[]
}

export interface SseSource {
  url: string
  port: number
  stats(): SourceStats
  /** With stampTimes: every stream's send times since the last call (or GET /stamps), which empties the log. */
  takeStamps(): StampedStream[]
  resetStats(): void
  close(): Promise<void>
}

const fixtureDir = repoPath('test', 'fixtures', 'llama-server')
const fixture = (name: string) => readFileSync(path.join(fixtureDir, name))

/** The `data:` payloads of a recorded SSE file, in order. */
function recordedPayloads(name: string): string[] {
  return fixture(name)
    .toString('utf8')
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice('data: '.length))
}

/** A recorded raw HTTP response (status line, headers, blank line, body) -> its JSON body text. */
function recordedBody(name: string): string {
  const text = fixture(name).toString('utf8')
  return text.slice(text.search(/\r?\n\r?\n/)).trimStart()
}

/** The first element, or a clear error when a recorded file lacks it (the fixtures are the templates). */
function first<T>(items: readonly T[], what: string): T {
  const item = items[0]
  if (item === undefined) throw new Error(`sse-source: the recorded fixtures have no ${what}`)
  return item
}

// ------------------------------------------------------------------------------------------ templates

type Timings = Record<string, unknown>
interface V1Chunk {
  choices: {text: string; finish_reason: string | null}[]
  usage?: {completion_tokens: number; prompt_tokens: number; total_tokens: number}
  timings?: Timings
}
interface IdsEvent {
  content: string
  tokens: number[]
  stop: boolean
  tokens_predicted: number
  tokens_evaluated: number
  generation_settings?: Record<string, unknown>
  timings?: Timings
}

const v1Payloads = recordedPayloads('v1_completions_stream.sse')
const idsPayloads = recordedPayloads('completion_stream_ids.sse')
const v1Chunks = v1Payloads.filter((p) => p !== '[DONE]').map((p) => JSON.parse(p) as V1Chunk)
const idsEvents = idsPayloads.map((p) => JSON.parse(p) as IdsEvent)

const choiceOf = (chunk: V1Chunk) => first(chunk.choices, 'choice in a /v1/completions chunk')

/** Recorded texts (per protocol) and ids to cycle through (content only: the final events carry none). */
const TEXT_POOLS: Record<SourceProtocol, string[]> = {
  'openai-completions': v1Chunks.filter((c) => choiceOf(c).finish_reason === null).map((c) => choiceOf(c).text),
  'llamacpp-completion': idsEvents.filter((e) => !e.stop).map((e) => e.content),
}
const ID_POOL = idsEvents.filter((e) => !e.stop).flatMap((e) => e.tokens)
/** Both recorded files hold 32 content events: one cycle length for both pools. */
const POOL_CYCLE = Math.min(TEXT_POOLS['openai-completions'].length, TEXT_POOLS['llamacpp-completion'].length, ID_POOL.length)

/**
 * The first recorded content chunk cut around its text value: prefix + JSON string + suffix is the recorded
 * chunk with another text (the field order is the server's; no JSON.stringify of the whole chunk).
 */
function splitAround(payload: string, field: string, value: string): {prefix: string; suffix: string} {
  const marker = `"${field}":${JSON.stringify(value)}`
  const at = payload.indexOf(marker)
  if (at < 0) throw new Error(`sse-source: the recorded chunk has no ${marker}`)
  return {prefix: payload.slice(0, at + field.length + 3), suffix: payload.slice(at + marker.length)}
}

const v1Template = splitAround(first(v1Payloads, '/v1/completions chunk'), 'text', choiceOf(first(v1Chunks, '/v1/completions chunk')).text)
const v1FinalTemplate = (() => {
  const chunk = v1Chunks.find((c) => c.usage !== undefined)
  if (chunk?.usage === undefined || chunk.timings === undefined) throw new Error('sse-source: v1_completions_stream.sse has no final chunk with usage and timings')
  return {...chunk, usage: chunk.usage, timings: chunk.timings}
})()

// /completion: {"index":0,"content":"n:!","tokens":[11733],"stop":false,"id_slot":-1,"tokens_predicted":1,"tokens_evaluated":128}
const idsFirst = first(idsEvents, '/completion event')
const idsTemplate = (() => {
  const payload = first(idsPayloads, '/completion event')
  const head = splitAround(payload, 'content', idsFirst.content)
  const tokensMarker = `"tokens":${JSON.stringify(idsFirst.tokens)}`
  const predictedMarker = `"tokens_predicted":${idsFirst.tokens_predicted}`
  const evaluatedMarker = `"tokens_evaluated":${idsFirst.tokens_evaluated}`
  const rest = head.suffix
  const t = rest.indexOf(tokensMarker)
  const p = rest.indexOf(predictedMarker)
  const e = rest.indexOf(evaluatedMarker)
  if (t < 0 || p < t || e < p) throw new Error('sse-source: unexpected field order in completion_stream_ids.sse')
  return {
    prefix: head.prefix, // ...,"content":
    afterContent: rest.slice(0, t + '"tokens":'.length), // ,"tokens":
    afterTokens: rest.slice(t + tokensMarker.length, p + '"tokens_predicted":'.length), // ,"stop":false,...,"tokens_predicted":
    afterPredicted: rest.slice(p + predictedMarker.length, e + '"tokens_evaluated":'.length), // ,"tokens_evaluated":
    end: rest.slice(e + evaluatedMarker.length), // }
  }
})()
const idsFinalTemplate = (() => {
  const event = idsEvents.find((e) => e.stop)
  if (event?.timings === undefined) throw new Error('sse-source: completion_stream_ids.sse has no stop event with timings')
  return {...event, timings: event.timings, generation_settings: event.generation_settings ?? {}}
})()

/** The recorded in-stream error event (failure_invalid_utf8_stream.sse's last event). */
const ERROR_EVENT = Buffer.from(`data: ${recordedPayloads('failure_invalid_utf8_stream.sse').at(-1)}\n\n`)
/** The recorded 500 body (error_bad_json.txt): llama.cpp's {"error":{"code":500,"message":...,"type":"server_error"}}. */
const HTTP_500_BODY = Buffer.from(recordedBody('error_bad_json.txt'))
const MODELS_BODY = fixture('v1_models.json')
const HEALTH_BODY = Buffer.from('{"status":"ok"}')
const DONE = Buffer.from('data: [DONE]\n\n')

/** How a malformed event starts: the first bytes of a real chunk, cut mid-JSON (as `data: {"choices":[{"te`). */
const MALFORMED: Record<SourceProtocol, Buffer> = {
  'openai-completions': Buffer.from(`data: ${v1Template.prefix.slice(0, '{"choices":[{"te'.length)}\n\n`),
  'llamacpp-completion': Buffer.from(`data: ${idsTemplate.prefix.slice(0, '{"index":0,"con'.length)}\n\n`),
}

const SERVER_HEADERS = {server: 'llama.cpp', 'access-control-allow-origin': ''}
const JSON_TYPE = 'application/json; charset=utf-8'

// ------------------------------------------------------------------------------------ chunk encoding

const jsonString = (text: string) => JSON.stringify(text)
const sendTime = () => (performance.timeOrigin + performance.now()).toFixed(3)

/** The ids and text of content chunk `chunk` (0-based) carrying `tokens` tokens. */
function chunkContent(protocol: SourceProtocol, chunk: number, tokensPerChunk: number, tokens: number): {ids: number[]; text: string} {
  const pool = TEXT_POOLS[protocol]
  const ids: number[] = []
  let text = ''
  const firstToken = chunk * tokensPerChunk
  for (let i = 0; i < tokens; i++) {
    ids.push(ID_POOL[(firstToken + i) % POOL_CYCLE]!)
    text += pool[(firstToken + i) % POOL_CYCLE]!
  }
  return {ids, text}
}

/**
 * Pre-encoded content chunks of one protocol. OpenAI chunks do not depend on the position in the stream
 * (a cycle of POOL_CYCLE buffers); /completion chunks carry the cumulative tokens_predicted and the
 * prompt length, so they are cached per prompt length (lazily grown, a few prompt lengths per run).
 */
class ChunkCache {
  private readonly openai: Buffer[] = []
  private readonly llama = new Map<number, Buffer[]>()

  constructor(private readonly tokensPerChunk: number) {}

  /** Bytes of content chunk `chunk` holding `tokens` tokens (fewer than tokensPerChunk only in the last). */
  get(protocol: SourceProtocol, chunk: number, tokens: number, predictedSoFar: number, promptTokens: number, stamp: string | null): Buffer {
    if (stamp !== null) return this.encode(protocol, chunk, tokens, predictedSoFar, promptTokens, stamp)
    if (protocol === 'openai-completions') {
      if (tokens !== this.tokensPerChunk) return this.encode(protocol, chunk, tokens, predictedSoFar, promptTokens, null)
      const slot = chunk % POOL_CYCLE
      return (this.openai[slot] ??= this.encode(protocol, slot, tokens, predictedSoFar, promptTokens, null))
    }
    if (tokens !== this.tokensPerChunk) return this.encode(protocol, chunk, tokens, predictedSoFar, promptTokens, null)
    let byPosition = this.llama.get(promptTokens)
    if (byPosition === undefined) {
      if (this.llama.size >= 16) this.llama.clear()
      byPosition = []
      this.llama.set(promptTokens, byPosition)
    }
    return (byPosition[chunk] ??= this.encode(protocol, chunk, tokens, predictedSoFar, promptTokens, null))
  }

  private encode(protocol: SourceProtocol, chunk: number, tokens: number, predictedSoFar: number, promptTokens: number, stamp: string | null): Buffer {
    const {ids, text} = chunkContent(protocol, chunk, this.tokensPerChunk, tokens)
    // Stamps are plain ASCII ("t=1795327509123.456"): no escaping needed.
    const textJson = stamp === null ? jsonString(text) : `"t=${stamp}"`
    if (protocol === 'openai-completions') return Buffer.from(`data: ${v1Template.prefix}${textJson}${v1Template.suffix}\n\n`)
    const t = idsTemplate
    return Buffer.from(
      `data: ${t.prefix}${textJson}${t.afterContent}[${ids.join(',')}]${t.afterTokens}${predictedSoFar + tokens}${t.afterPredicted}${promptTokens}${t.end}\n\n`,
    )
  }
}

/** llama.cpp's `timings` object for one finished stream, in the source's own clock. */
function timingsFor(template: Timings, promptTokens: number, completionTokens: number, promptMs: number, predictedMs: number): Timings {
  return {
    ...template,
    cache_n: 0,
    prompt_n: promptTokens,
    prompt_ms: promptMs,
    prompt_per_token_ms: promptTokens > 0 ? promptMs / promptTokens : 0,
    prompt_per_second: promptMs > 0 ? (promptTokens * 1000) / promptMs : 0,
    predicted_n: completionTokens,
    predicted_ms: predictedMs,
    predicted_per_token_ms: completionTokens > 0 ? predictedMs / completionTokens : 0,
    predicted_per_second: predictedMs > 0 ? (completionTokens * 1000) / predictedMs : 0,
  }
}

/** The recorded final chunk(s) with this request's counts and times. */
function finalBytes(protocol: SourceProtocol, promptTokens: number, completionTokens: number, promptMs: number, predictedMs: number): Buffer {
  if (protocol === 'openai-completions') {
    const chunk = {
      ...v1FinalTemplate,
      usage: {
        ...v1FinalTemplate.usage,
        completion_tokens: completionTokens,
        prompt_tokens: promptTokens,
        total_tokens: promptTokens + completionTokens,
      },
      timings: timingsFor(v1FinalTemplate.timings, promptTokens, completionTokens, promptMs, predictedMs),
    }
    return Buffer.concat([Buffer.from(`data: ${JSON.stringify(chunk)}\n\n`), DONE])
  }
  const event = {
    ...idsFinalTemplate,
    tokens_predicted: completionTokens,
    tokens_evaluated: promptTokens,
    generation_settings: {...idsFinalTemplate.generation_settings, n_predict: completionTokens, max_tokens: completionTokens},
    tokens_cached: promptTokens + completionTokens - 1,
    timings: timingsFor(idsFinalTemplate.timings, promptTokens, completionTokens, promptMs, predictedMs),
  }
  // /completion ends with the stop event: llama-server sends no [DONE] there (as recorded).
  return Buffer.from(`data: ${JSON.stringify(event)}\n\n`)
}

// -------------------------------------------------------------------------------------------- helpers

/** Deterministic token ids: one per character, its code + 1000 (distinct characters -> distinct ids). */
export function tokenizeText(text: string): number[] {
  const ids: number[] = []
  for (const char of text) ids.push(char.codePointAt(0)! + 1000)
  return ids
}

function promptTokenCount(prompt: unknown): number {
  if (Array.isArray(prompt)) return prompt.length
  if (typeof prompt === 'string') return tokenizeText(prompt).length
  return 0
}

function positiveInt(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : fallback
}

function emptyStats(): SourceStats {
  return {requests: 0, completed: 0, failed: {'http-500': 0, drop: 0, malformed: 0, 'error-event': 0}, contentChunks: 0, tokensSent: 0}
}

interface Counters {
  promptTokens: number
  promptMs: number
  predictedMs: number
  maxTokens: number
}
const emptyCounters = (): Counters => ({promptTokens: 0, promptMs: 0, predictedMs: 0, maxTokens: 0})

function metricsText(stats: SourceStats, counters: Counters, processing: number): string {
  const lines: string[] = []
  const metric = (name: string, type: string, help: string, value: number) => {
    lines.push(`# HELP llamacpp:${name} ${help}`, `# TYPE llamacpp:${name} ${type}`, `llamacpp:${name} ${value}`)
  }
  const predictedSeconds = counters.predictedMs / 1000
  const promptSeconds = counters.promptMs / 1000
  metric('prompt_tokens_total', 'counter', 'Number of prompt tokens processed.', counters.promptTokens)
  metric('prompt_seconds_total', 'counter', 'Prompt process time', promptSeconds)
  metric('tokens_predicted_total', 'counter', 'Number of generation tokens processed.', stats.tokensSent)
  metric('tokens_predicted_seconds_total', 'counter', 'Predict process time', predictedSeconds)
  metric('n_decode_total', 'counter', 'Total number of llama_decode() calls', stats.contentChunks)
  metric('n_tokens_max', 'counter', 'Largest observed n_tokens.', counters.maxTokens)
  metric('spec_decode_num_draft_tokens_total', 'counter', 'Total draft tokens generated', 0)
  metric('spec_decode_num_accepted_tokens_total', 'counter', 'Total draft tokens accepted by the target model', 0)
  metric('spec_decode_num_drafts_total', 'counter', 'Total speculative decoding verification steps', 0)
  metric('prompt_tokens_seconds', 'gauge', 'Average prompt throughput in tokens/s.', promptSeconds > 0 ? counters.promptTokens / promptSeconds : 0)
  metric('predicted_tokens_seconds', 'gauge', 'Average generation throughput in tokens/s.', predictedSeconds > 0 ? stats.tokensSent / predictedSeconds : 0)
  metric('requests_processing', 'gauge', 'Number of requests processing.', processing)
  metric('requests_deferred', 'gauge', 'Number of requests deferred.', 0)
  metric('n_busy_slots_per_decode', 'gauge', 'Average number of busy slots per llama_decode() call', 1)
  return `${lines.join('\n')}\n`
}

// --------------------------------------------------------------------------------------------- server

/**
 * Start the source. Failures are decided per completion request in ARRIVAL order by one seeded generator
 * (three draws per request at most: fail?, which kind, after how many chunks), so the same seed and the
 * same request order fail the same requests the same way.
 */
export async function startSseSource(options: SseSourceOptions = {}): Promise<SseSource> {
  const host = options.host ?? '127.0.0.1'
  const intervalMs = Math.max(0, options.intervalMs ?? 0)
  const tokensPerChunk = positiveInt(options.tokensPerChunk, 1)
  const failRate = Math.min(1, Math.max(0, options.failRate ?? 0))
  const failureKinds = options.failureKinds ?? FAILURE_KINDS
  for (const kind of failureKinds) {
    if (!(FAILURE_KINDS as readonly string[]).includes(kind)) throw new Error(`sse-source: unknown failure kind "${kind}" (known: ${FAILURE_KINDS.join(', ')})`)
  }
  if (failRate > 0 && failureKinds.length === 0) throw new Error('sse-source: failRate > 0 needs at least one failure kind')
  const stampTimes = options.stampTimes === true
  const random = uniformRandom(options.seed ?? 1)
  const cache = new ChunkCache(tokensPerChunk)

  let stats = emptyStats()
  let counters = emptyCounters()
  let processing = 0
  let closed = false
  const timers = new Set<NodeJS.Timeout>()
  /** With stampTimes: every stream's send times since the last GET /stamps. */
  let stampLog: StampedStream[] = []
  const takeStamps = () => {
    const taken = stampLog
    stampLog = []
    return taken
  }

  /** What happens to the next completion request: null = it completes; else the kind and where. */
  const decide = (chunks: number): {kind: FailureKind; afterChunks: number} | null => {
    if (failRate === 0 || random() >= failRate) return null
    const kind = failureKinds[Math.floor(random() * failureKinds.length)]!
    const afterChunks = Math.floor(random() * chunks) // 0 .. chunks-1: always before the stream's end
    return {kind, afterChunks}
  }

  const stream = (res: ServerResponse, protocol: SourceProtocol, promptTokens: number, maxTokens: number) => {
    const receivedAt = performance.now()
    const chunks = Math.ceil(maxTokens / tokensPerChunk)
    stats.requests++
    const failure = decide(chunks)
    if (failure?.kind === 'http-500') {
      stats.failed['http-500']++
      res.writeHead(500, {...SERVER_HEADERS, 'content-type': JSON_TYPE, 'content-length': HTTP_500_BODY.length})
      res.end(HTTP_500_BODY)
      return
    }
    processing++
    counters.promptTokens += promptTokens
    counters.maxTokens = Math.max(counters.maxTokens, promptTokens + maxTokens)
    res.writeHead(200, {...SERVER_HEADERS, 'content-type': 'text/event-stream'})
    res.flushHeaders()
    const stopAt = failure === null ? chunks : failure.afterChunks
    let chunk = 0
    let sent = 0
    let firstAt = receivedAt
    let lastAt = receivedAt
    let ended = false
    const logged: StampedStream | null = stampTimes ? {maxTokens, sentAt: []} : null
    if (logged !== null) stampLog.push(logged)
    const finish = () => {
      if (ended) return
      ended = true
      processing--
    }
    res.on('close', finish)

    const writeChunk = () => {
      const tokens = Math.min(tokensPerChunk, maxTokens - sent)
      const now = performance.now()
      if (chunk === 0) firstAt = now
      lastAt = now
      const stamp = stampTimes ? sendTime() : null
      if (stamp !== null) logged?.sentAt.push(stamp)
      const bytes = cache.get(protocol, chunk, tokens, sent, promptTokens, stamp)
      chunk++
      sent += tokens
      stats.contentChunks++
      stats.tokensSent += tokens
      return res.write(bytes)
    }

    const end = () => {
      if (failure === null) {
        stats.completed++
        counters.promptMs += firstAt - receivedAt
        counters.predictedMs += lastAt - firstAt
        res.end(finalBytes(protocol, promptTokens, sent, firstAt - receivedAt, lastAt - firstAt))
        return
      }
      stats.failed[failure.kind]++
      if (failure.kind === 'drop') {
        // Let the chunks already written leave, then cut the connection with no chunked-encoding end.
        res.write('', () => res.socket?.destroy())
        setTimeout(() => res.socket?.destroy(), 50).unref()
        return
      }
      res.end(failure.kind === 'malformed' ? MALFORMED[protocol] : ERROR_EVENT)
    }

    if (intervalMs === 0) {
      // As fast as the socket drains: write until backpressure, continue on 'drain'.
      const pump = () => {
        while (chunk < stopAt) {
          if (ended || closed) return
          if (!writeChunk()) {
            res.once('drain', pump)
            return
          }
        }
        if (!ended && !closed) end()
      }
      pump()
      return
    }
    // Paced: chunk i leaves at start + i * intervalMs (anchored, so timer lateness does not accumulate).
    const start = performance.now()
    const tick = () => {
      if (ended || closed) return
      if (chunk >= stopAt) {
        end()
        return
      }
      writeChunk()
      const delay = Math.max(0, start + chunk * intervalMs - performance.now())
      const timer = setTimeout(() => {
        timers.delete(timer)
        tick()
      }, delay)
      timers.add(timer)
    }
    tick()
  }

  const routes: Record<string, SourceProtocol | 'tokenize'> = {
    'POST /v1/completions': 'openai-completions',
    'POST /completion': 'llamacpp-completion',
    'POST /tokenize': 'tokenize',
  }

  const server = createServer({noDelay: true}, (req, res) => {
    const urlPath = (req.url ?? '/').split('?')[0]
    const key = `${req.method} ${urlPath}`
    if (key === 'GET /health') {
      res.writeHead(200, {...SERVER_HEADERS, 'content-type': JSON_TYPE, 'content-length': HEALTH_BODY.length})
      res.end(HEALTH_BODY)
      req.resume()
      return
    }
    if (key === 'GET /v1/models' || key === 'GET /models') {
      res.writeHead(200, {...SERVER_HEADERS, 'content-type': JSON_TYPE, 'content-length': MODELS_BODY.length})
      res.end(MODELS_BODY)
      req.resume()
      return
    }
    if (key === 'GET /stamps' && stampTimes) {
      const body = JSON.stringify({streams: takeStamps()})
      res.writeHead(200, {...SERVER_HEADERS, 'content-type': JSON_TYPE})
      res.end(body)
      req.resume()
      return
    }
    if (key === 'GET /metrics') {
      res.writeHead(200, {...SERVER_HEADERS, 'content-type': 'text/plain; version=0.0.4'})
      res.end(metricsText(stats, counters, processing))
      req.resume()
      return
    }
    const route = routes[key]
    if (route === undefined) {
      req.resume()
      res.writeHead(404, {...SERVER_HEADERS, 'content-type': JSON_TYPE})
      res.end(JSON.stringify({error: {code: 404, message: 'File Not Found', type: 'not_found_error'}}))
      return
    }
    const parts: Buffer[] = []
    req.on('data', (part: Buffer) => parts.push(part))
    req.on('end', () => {
      let body: unknown
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8'))
      } catch {
        body = null
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        // What llama-server answers to a body it cannot parse (error_bad_json.txt); not a counted request.
        res.writeHead(500, {...SERVER_HEADERS, 'content-type': JSON_TYPE, 'content-length': HTTP_500_BODY.length})
        res.end(HTTP_500_BODY)
        return
      }
      const fields = body as Record<string, unknown>
      if (route === 'tokenize') {
        const text = typeof fields.content === 'string' ? fields.content : typeof fields.prompt === 'string' ? fields.prompt : ''
        res.writeHead(200, {...SERVER_HEADERS, 'content-type': JSON_TYPE})
        res.end(JSON.stringify({tokens: tokenizeText(text)}))
        return
      }
      const requested = route === 'openai-completions' ? (fields.max_tokens ?? fields.n_predict) : (fields.n_predict ?? fields.max_tokens)
      const maxTokens = positiveInt(requested, 16)
      stream(res, route, promptTokenCount(fields.prompt), maxTokens)
    })
  })
  server.keepAliveTimeout = 30_000

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const {port} = server.address() as AddressInfo
  const urlHost = host.includes(':') ? `[${host}]` : host
  return {
    url: `http://${urlHost}:${port}`,
    port,
    stats: () => structuredClone(stats),
    takeStamps,
    resetStats: () => {
      stats = emptyStats()
      counters = emptyCounters()
    },
    close: async () => {
      closed = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

// ------------------------------------------------------------------------------------------------ CLI

async function main(): Promise<void> {
  const {values} = parseArgs({
    options: {
      host: {type: 'string', default: '127.0.0.1'},
      port: {type: 'string', default: '0'},
      'interval-ms': {type: 'string', default: '0'},
      'tokens-per-chunk': {type: 'string', default: '1'},
      'fail-rate': {type: 'string', default: '0'},
      seed: {type: 'string', default: '1'},
      'failure-kinds': {type: 'string', default: FAILURE_KINDS.join(',')},
      'stamp-times': {type: 'boolean', default: false},
      // With --stamp-times: on SIGTERM/SIGINT, the stamp log ({"streams": [...]}, as GET /stamps) is written here:
      // for a source started by capplan as its llama-server (--server-bin), which stops it before anyone asks.
      'stamps-file': {type: 'string'},
    },
  })
  const number = (name: 'port' | 'interval-ms' | 'tokens-per-chunk' | 'fail-rate' | 'seed', check: (value: number) => boolean) => {
    const value = Number(values[name])
    if (!Number.isFinite(value) || !check(value)) {
      process.stderr.write(`sse-source: --${name} ${values[name]} is not valid\n`)
      process.exit(2)
    }
    return value
  }
  const source = await startSseSource({
    host: values.host,
    port: number('port', (v) => Number.isInteger(v) && v >= 0 && v < 65536),
    intervalMs: number('interval-ms', (v) => v >= 0),
    tokensPerChunk: number('tokens-per-chunk', (v) => Number.isInteger(v) && v >= 1),
    failRate: number('fail-rate', (v) => v >= 0 && v <= 1),
    seed: number('seed', Number.isInteger),
    // Unknown kinds are refused by startSseSource with the list of known ones.
    failureKinds: values['failure-kinds'].split(',').filter((k) => k !== '') as FailureKind[],
    stampTimes: values['stamp-times'],
  })
  process.stdout.write(`${JSON.stringify({url: source.url})}\n`)
  const stop = async () => {
    const stats = source.stats()
    if (values['stamps-file'] !== undefined) writeFileSync(values['stamps-file'], JSON.stringify({streams: source.takeStamps()}))
    await source.close()
    process.stdout.write(`${JSON.stringify(stats)}\n`, () => process.exit(0))
  }
  process.once('SIGTERM', () => void stop())
  process.once('SIGINT', () => void stop())
}

if (isMainModule(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`sse-source: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  })
}
