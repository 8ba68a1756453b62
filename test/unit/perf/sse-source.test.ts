import {execa} from 'execa'
import {readFileSync} from 'node:fs'

import {afterEach, describe, expect, it} from 'vitest'

import {perfScript} from '../../../perf/paths.js'
import {type FailureKind, type SseSource, type SseSourceOptions, startSseSource} from '../../../perf/sse-source.js'
import {uniformRandom} from '../../../src/lib/random.js'
import type {ClientEvent, LlamaServerTimings, WireProtocol} from '../../../src/engines/http/protocols.js'
import {streamRequest, toEngineEvent} from '../../../src/engines/http/stream.js'

/**
 * perf/sse-source.ts read by capplan's REAL stream client. The source replays the recorded llama-server
 * chunk shapes (test/fixtures/llama-server); these tests check the client sees exactly the counts, usage and
 * failure kinds the source was told to produce, and that the seeded failures are reproducible.
 */

// Run as its own process from source: node with tsx's loader (what perf/loadgen-bench does under vitest).
const sourceScript = perfScript('sse-source')
const fixtureDir = new URL('../../fixtures/llama-server/', import.meta.url)
const recordedPayloads = (name: string) =>
  readFileSync(new URL(name, fixtureDir), 'utf8')
    .split('\n\n')
    .filter((block) => block.startsWith('data: {'))
    .map((block) => JSON.parse(block.slice(6)) as Record<string, unknown>)

const sources: SseSource[] = []
afterEach(async () => {
  await Promise.all(sources.splice(0).map((source) => source.close()))
})

async function start(options: SseSourceOptions = {}): Promise<SseSource> {
  const source = await startSseSource(options)
  sources.push(source)
  return source
}

const paths: Record<'openai-completions' | 'llamacpp-completion', string> = {
  'openai-completions': '/v1/completions',
  'llamacpp-completion': '/completion',
}

async function read(source: SseSource, protocol: 'openai-completions' | 'llamacpp-completion', maxTokens: number) {
  const body = protocol === 'openai-completions' ? {prompt: [1, 2, 3], max_tokens: maxTokens} : {prompt: [1, 2, 3], n_predict: maxTokens}
  const timings: LlamaServerTimings[] = []
  const events: ClientEvent[] = []
  const stream = streamRequest({url: `${source.url}${paths[protocol]}`, protocol: protocol as WireProtocol, body, signal: new AbortController().signal, timeoutMs: 10_000})
  for await (const event of stream) {
    const engineEvent = toEngineEvent(event, (t) => timings.push(t))
    if (engineEvent !== null) events.push(engineEvent)
  }
  return {events, timings}
}

const contents = (events: ClientEvent[]) => events.filter((e): e is Extract<ClientEvent, {kind: 'content'}> => e.kind === 'content')
const errors = (events: ClientEvent[]) => events.filter((e): e is Extract<ClientEvent, {kind: 'error'}> => e.kind === 'error')

describe('sse-source: complete streams through the real client', () => {
  it('/v1/completions: 7 content events with the recorded texts, usage 3 + 7, timings predicted_n 7', async () => {
    const source = await start()
    const {events, timings} = await read(source, 'openai-completions', 7)
    const recordedTexts = recordedPayloads('v1_completions_stream.sse')
      .slice(0, 7)
      .map((chunk) => (chunk.choices as {text: string}[])[0]!.text)
    expect(contents(events).map((e) => e.text)).toEqual(recordedTexts)
    expect(contents(events).map((e) => e.tokens)).toEqual([1, 1, 1, 1, 1, 1, 1])
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 3, completionTokens: 7, cachedTokens: 0})
    expect(errors(events)).toEqual([])
    expect(timings).toHaveLength(1)
    expect(timings[0]).toMatchObject({promptTokens: 3, predictedTokens: 7, cachedTokens: 0})
    expect(source.stats()).toEqual({requests: 1, completed: 1, failed: {'http-500': 0, drop: 0, malformed: 0, 'error-event': 0}, contentChunks: 7, tokensSent: 7})
  })

  it('/completion: 7 content events with the recorded texts, usage from the stop event', async () => {
    const source = await start()
    const {events, timings} = await read(source, 'llamacpp-completion', 7)
    const recorded = recordedPayloads('completion_stream_ids.sse').slice(0, 7)
    expect(contents(events).map((e) => e.text)).toEqual(recorded.map((event) => event.content))
    expect(contents(events).map((e) => e.tokens)).toEqual([1, 1, 1, 1, 1, 1, 1])
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 3, completionTokens: 7, cachedTokens: 0})
    expect(timings[0]).toMatchObject({promptTokens: 3, predictedTokens: 7})
    expect(source.stats()).toMatchObject({requests: 1, completed: 1, contentChunks: 7, tokensSent: 7})
  })

  it('tokensPerChunk 3 on /completion: the ids per event say 3, 3, 1 (7 = 3 + 3 + 1); /v1 counts chunks, usage says 7', async () => {
    const source = await start({tokensPerChunk: 3})
    const llama = await read(source, 'llamacpp-completion', 7)
    expect(contents(llama.events).map((e) => e.tokens)).toEqual([3, 3, 1])
    expect(llama.events.at(-1)).toEqual({kind: 'usage', promptTokens: 3, completionTokens: 7, cachedTokens: 0})
    // OpenAI chunks do not say how many tokens they carry: the client counts 1 per chunk, usage holds 7.
    const openai = await read(source, 'openai-completions', 7)
    expect(contents(openai.events).map((e) => e.tokens)).toEqual([1, 1, 1])
    expect(openai.events.at(-1)).toEqual({kind: 'usage', promptTokens: 3, completionTokens: 7, cachedTokens: 0})
    // 2 requests x 3 chunks; 2 x 7 tokens.
    expect(source.stats()).toMatchObject({requests: 2, completed: 2, contentChunks: 6, tokensSent: 14})
  })

  it('stampTimes: every content text is the send time "t=<ms with 3 decimals>", non-decreasing', async () => {
    const source = await start({stampTimes: true, intervalMs: 2})
    const {events} = await read(source, 'openai-completions', 5)
    const texts = contents(events).map((e) => e.text ?? '')
    expect(texts).toHaveLength(5)
    for (const text of texts) expect(text).toMatch(/^t=\d+\.\d{3}$/)
    const stamps = texts.map((text) => Number(text.slice(2)))
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]!).toBeGreaterThanOrEqual(stamps[i - 1]!)
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 3, completionTokens: 5, cachedTokens: 0})
  })

  it('stampTimes: GET /stamps gives each stream the send times its texts carry, then empties the log', async () => {
    const source = await start({stampTimes: true, intervalMs: 1})
    const first = await read(source, 'openai-completions', 4)
    const second = await read(source, 'llamacpp-completion', 3)
    const log = (await (await fetch(`${source.url}/stamps`)).json()) as {streams: {maxTokens: number; sentAt: string[]}[]}
    const textsOf = (events: typeof first.events) => contents(events).map((e) => (e.text ?? '').slice(2))
    expect(log.streams).toEqual([
      {maxTokens: 4, sentAt: textsOf(first.events)},
      {maxTokens: 3, sentAt: textsOf(second.events)},
    ])
    expect(await (await fetch(`${source.url}/stamps`)).json()).toEqual({streams: []})
  })

  it('without stampTimes there is no /stamps route (nothing is logged)', async () => {
    const source = await start()
    await read(source, 'openai-completions', 2)
    expect((await fetch(`${source.url}/stamps`)).status).toBe(404)
  })

  it('GET /metrics counts what was sent, in llama.cpp names; /health, /v1/models, /tokenize answer', async () => {
    const source = await start()
    await read(source, 'llamacpp-completion', 4)
    await read(source, 'openai-completions', 6)
    const metrics = await (await fetch(`${source.url}/metrics`)).text()
    const value = (name: string) => Number(new RegExp(`^llamacpp:${name} (\\S+)$`, 'm').exec(metrics)?.[1])
    expect(value('tokens_predicted_total')).toBe(10) // 4 + 6
    expect(value('prompt_tokens_total')).toBe(6) // 3 + 3
    expect(value('n_decode_total')).toBe(10)
    expect(value('requests_processing')).toBe(0)
    // Every metric name of the recorded scrape is served, with its HELP and TYPE lines.
    const recordedNames = [...readFileSync(new URL('metrics_before.txt', fixtureDir), 'utf8').matchAll(/^(llamacpp:\w+) /gm)].map((m) => m[1])
    expect([...metrics.matchAll(/^(llamacpp:\w+) /gm)].map((m) => m[1])).toEqual(recordedNames)
    expect(metrics).toContain('# TYPE llamacpp:tokens_predicted_total counter')

    expect(await (await fetch(`${source.url}/health`)).json()).toEqual({status: 'ok'})
    const models = (await (await fetch(`${source.url}/v1/models`)).json()) as {data: {id: string}[]}
    expect(models.data[0]!.id).toBe('models/node-qwen2.5-0.5b-shape-q4_0.gguf')
    const tokenize = await fetch(`${source.url}/tokenize`, {method: 'POST', body: JSON.stringify({content: 'Hi a'})})
    // 'H' 72, 'i' 105, ' ' 32, 'a' 97, each + 1000.
    expect(await tokenize.json()).toEqual({tokens: [1072, 1105, 1032, 1097]})
  })
})

describe('sse-source: injected failures as capplan classifies them', () => {
  const expected: Record<FailureKind, {errorKind: string; message: RegExp}> = {
    'http-500': {errorKind: 'http', message: /HTTP 500 Internal Server Error: \[json\.exception\.parse_error\.101\]/},
    drop: {errorKind: 'dropped', message: /lost its connection|closed before/},
    malformed: {errorKind: 'stream-error', message: /Malformed stream event \(not JSON\)/},
    'error-event': {errorKind: 'stream-error', message: /The model produced output that does not match the expected Content-only format \(server_error\)/},
  }
  for (const protocol of ['openai-completions', 'llamacpp-completion'] as const) {
    for (const kind of Object.keys(expected) as FailureKind[]) {
      it(`${protocol}, failRate 1, only ${kind} -> one ${expected[kind].errorKind} error, no usage`, async () => {
        const source = await start({failRate: 1, failureKinds: [kind], seed: 7})
        const {events} = await read(source, protocol, 20)
        expect(errors(events)).toHaveLength(1)
        expect(events.at(-1)).toMatchObject({kind: 'error', errorKind: expected[kind].errorKind})
        expect((events.at(-1) as {message: string}).message).toMatch(expected[kind].message)
        expect(events.filter((e) => e.kind === 'usage')).toEqual([])
        // The failure comes before the stream's end: fewer than 20 content events ever arrive.
        expect(contents(events).length).toBeLessThan(20)
        if (kind === 'http-500') expect(contents(events)).toEqual([])
        const stats = source.stats()
        expect(stats.requests).toBe(1)
        expect(stats.completed).toBe(0)
        expect(stats.failed).toEqual({'http-500': 0, drop: 0, malformed: 0, 'error-event': 0, [kind]: 1})
        // Chunks written before the failure reached the client whole (the drop waits for them to flush).
        expect(contents(events).length).toBe(stats.contentChunks)
      })
    }
  }

  it('paced streams (intervalMs 1) fail the same way: each kind once, in the order the seeded draws pick', async () => {
    for (const kind of Object.keys(expected) as FailureKind[]) {
      const source = await start({failRate: 1, failureKinds: [kind], intervalMs: 1, seed: 3})
      const {events} = await read(source, 'llamacpp-completion', 12)
      expect(events.at(-1)).toMatchObject({kind: 'error', errorKind: expected[kind].errorKind})
      expect(contents(events).length).toBe(source.stats().contentChunks)
      expect(source.stats().failed[kind]).toBe(1)
    }
  })

  it('seeded failRate 0.3 over 200 sequential requests: the same failing indices and kinds twice, as the PRNG says', async () => {
    const runOnce = async () => {
      const source = await start({failRate: 0.3, seed: 42})
      const outcome: (string | null)[] = []
      for (let i = 0; i < 200; i++) {
        const {events} = await read(source, 'openai-completions', 7)
        const error = errors(events)[0]
        outcome.push(error === undefined ? null : error.errorKind)
      }
      const stats = source.stats()
      await source.close()
      return {outcome, stats}
    }
    const first = await runOnce()
    const second = await runOnce()
    expect(second.outcome).toEqual(first.outcome)

    // The source's rule, replayed: per request draw u; u < 0.3 fails, then the kind (uniform over the
    // 4 kinds) and the cut point (over the 7 chunks) are the next two draws.
    const random = uniformRandom(42)
    const kinds: FailureKind[] = ['http-500', 'drop', 'malformed', 'error-event']
    const clientKind: Record<FailureKind, string> = {'http-500': 'http', drop: 'dropped', malformed: 'stream-error', 'error-event': 'stream-error'}
    const predicted: (string | null)[] = []
    const predictedCounts: Record<FailureKind, number> = {'http-500': 0, drop: 0, malformed: 0, 'error-event': 0}
    for (let i = 0; i < 200; i++) {
      if (random() >= 0.3) {
        predicted.push(null)
        continue
      }
      const kind = kinds[Math.floor(random() * 4)]!
      random()
      predictedCounts[kind]++
      predicted.push(clientKind[kind])
    }
    expect(first.outcome).toEqual(predicted)
    const failedCount = predicted.filter((k) => k !== null).length
    expect(first.stats).toMatchObject({requests: 200, completed: 200 - failedCount, failed: predictedCounts})
    expect(failedCount).toBeGreaterThan(30) // ~60 expected; a rate of 0 or 1 would be a bug
    expect(failedCount).toBeLessThan(100)
  })
})

describe('sse-source as a child process', () => {
  it('prints {"url"} when listening, serves, and prints its stats JSON on SIGTERM, exit 0', async () => {
    const child = execa(process.execPath, [...sourceScript.execArgv, sourceScript.file, '--port', '0', '--interval-ms', '1', '--seed', '1'], {reject: false})
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.once('data', (data: Buffer) => {
        try {
          resolve((JSON.parse(data.toString().split('\n')[0]!) as {url: string}).url)
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)))
        }
      })
      child.once('exit', () => reject(new Error('sse-source exited before listening')))
    })
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const {events} = await read({url} as SseSource, 'llamacpp-completion', 5)
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 3, completionTokens: 5, cachedTokens: 0})
    child.kill('SIGTERM')
    const result = await child
    expect(result.exitCode).toBe(0)
    const lines = result.stdout.trim().split('\n')
    expect(lines).toHaveLength(2)
    expect(JSON.parse(lines[1]!)).toEqual({requests: 1, completed: 1, failed: {'http-500': 0, drop: 0, malformed: 0, 'error-event': 0}, contentChunks: 5, tokensSent: 5})
  })
})
