import {subscribe, unsubscribe} from 'node:diagnostics_channel'

import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {ignoredEndpointParts, normalizeEndpoint, OpenAiEngine, readApiKey} from '../../../src/engines/openai.js'
import type {StreamEvent} from '../../../src/engines/types.js'
import {CapplanError, EngineError} from '../../../src/lib/errors.js'
import {findFreePort} from '../../../src/lib/ports.js'
import {llamaFixture, type ReplayServer, startReplayServer} from '../../helpers/replay-server.js'

/**
 * The openai engine against the replay server serving llama-server's recorded /v1/models and streams.
 */

const KEY_ENV = 'CAPPLAN_TEST_OPENAI_KEY'
const KEY = 'sk-live-secret-4242'
// v1_models.json: "data":[{"id":"models/node-qwen2.5-0.5b-shape-q4_0.gguf",...,"owned_by":"llamacpp"}]
const RECORDED_MODEL = 'models/node-qwen2.5-0.5b-shape-q4_0.gguf'

let server: ReplayServer
beforeAll(async () => {
  server = await startReplayServer()
  server.route('GET /v1/models', {status: 200, headers: {'content-type': 'application/json'}, body: llamaFixture('v1_models.json')})
  server.route('POST /v1/completions', {body: llamaFixture('v1_completions_stream.sse')})
  server.route('POST /v1/chat/completions', {body: llamaFixture('v1_chat_completions_stream.sse')})
})
afterAll(async () => server.close())
afterEach(() => {
  delete process.env[KEY_ENV]
})

async function collect(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = []
  for await (const event of stream) events.push(event)
  return events
}

const failure = async (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (e: unknown) => e,
  )

describe('OpenAiEngine.start', () => {
  it('picks the first listed model and records the endpoint without credentials or key', async () => {
    process.env[KEY_ENV] = KEY
    const engine = new OpenAiEngine({endpoint: `${server.url}/v1/`, apiKeyEnv: KEY_ENV, gpuCount: 2})
    await engine.start()
    const info = engine.info()
    expect(info).toEqual({
      kind: 'openai',
      version: null, // the replay server has no GET /version (vLLM has)
      build: null,
      backend: 'remote',
      threads: null,
      gpuCount: 2,
      args: [`model=${RECORDED_MODEL}`, 'api=/v1/completions', 'owned_by=llamacpp', `apiKeyEnv=${KEY_ENV}`, 'serverExtensions=true'],
      endpoint: server.url,
    })
    expect(JSON.stringify(info)).not.toContain(KEY)
    // The key went to the server as a Bearer token.
    expect(server.requests.at(-1)!.headers.authorization).toBe(`Bearer ${KEY}`)
  })

  it('streams token-id prompts to /v1/completions with the model id and include_usage', async () => {
    const engine = new OpenAiEngine({endpoint: server.url})
    await engine.start()
    const events = await collect(engine.stream({promptTokens: [1, 2, 3], promptText: null, maxTokens: 32, ignoreEos: true}, new AbortController().signal))
    const sent = JSON.parse(server.requests.at(-1)!.body) as Record<string, unknown>
    expect(sent).toMatchObject({model: RECORDED_MODEL, prompt: [1, 2, 3], max_tokens: 32, stream: true, stream_options: {include_usage: true}, ignore_eos: true})
    // The recorded stream: 32 content chunks, usage 128 prompt / 32 completion tokens.
    expect(events.filter((e) => e.kind === 'content')).toHaveLength(32)
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 128, completionTokens: 32, cachedTokens: 0})
  })

  it('chat API: text prompts stream; token-id prompts are refused per request', async () => {
    const engine = new OpenAiEngine({endpoint: server.url, api: 'chat', model: RECORDED_MODEL})
    await engine.start()
    const text = await collect(engine.stream({promptTokens: null, promptText: 'Say something.', maxTokens: 16, ignoreEos: true}, new AbortController().signal))
    expect(text.at(-1)).toEqual({kind: 'usage', promptTokens: 23, completionTokens: 16, cachedTokens: 0})
    const ids = await collect(engine.stream({promptTokens: [1], promptText: null, maxTokens: 16, ignoreEos: true}, new AbortController().signal))
    expect(ids).toHaveLength(1)
    expect(ids[0]).toMatchObject({kind: 'error', errorKind: 'engine'})
  })

  it('a model the server does not list -> EngineError naming the listed ids', async () => {
    const error = await failure(new OpenAiEngine({endpoint: server.url, model: 'gpt-9'}).start())
    expect(error).toBeInstanceOf(EngineError)
    expect((error as EngineError).message).toContain(`does not serve the model "gpt-9"; it lists: ${RECORDED_MODEL}`)
  })

  it('an unreachable endpoint -> EngineError (exit 8) that says so', async () => {
    const port = await findFreePort() // free now, and nothing listens on it
    const error = await failure(new OpenAiEngine({endpoint: `http://127.0.0.1:${port}`, checkTimeoutMs: 3000}).start())
    expect(error).toBeInstanceOf(EngineError)
    expect((error as EngineError).exitCode).toBe(8)
    expect((error as EngineError).message).toMatch(new RegExp(`^Cannot reach the OpenAI-compatible endpoint http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`))
  })

  it('a rejected key -> names the variable, never the value', async () => {
    const auth = await startReplayServer()
    try {
      auth.route('GET /v1/models', {status: 401, body: JSON.stringify({error: {message: `bad key ${KEY}`, type: 'auth'}})})
      process.env[KEY_ENV] = KEY
      const error = await failure(new OpenAiEngine({endpoint: auth.url, apiKeyEnv: KEY_ENV}).start())
      expect((error as EngineError).message).toContain(`rejected the API key from $${KEY_ENV} (HTTP 401`)
      expect((error as EngineError).message).not.toContain(KEY)
    } finally {
      await auth.close()
    }
  })
})

describe('options', () => {
  it('normalizes endpoints and refuses non-http ones', () => {
    expect(normalizeEndpoint('http://h:8000/v1/')).toBe('http://h:8000')
    expect(normalizeEndpoint('https://api.example.com/openai/v1')).toBe('https://api.example.com/openai')
    expect(() => normalizeEndpoint('ftp://h')).toThrow(CapplanError)
    expect(() => normalizeEndpoint('not a url')).toThrow(/is not a URL/)
  })

  it('credentials and a query in --endpoint are dropped, and a warning says so without quoting them', () => {
    const key = 'sk-in-the-url-0123456789'
    const endpoint = `http://alice:${key}@h:8000/v1?api_key=${key}`
    expect(normalizeEndpoint(endpoint)).toBe('http://h:8000')
    const notes: string[] = []
    const engine = new OpenAiEngine({endpoint, onNote: (note) => notes.push(note)})
    expect(engine.endpoint).toBe('http://h:8000')
    expect(notes).toEqual([
      '--endpoint holds credentials (user:password@) and a query string (?...): capplan ignores them and sends them nowhere (values not shown). ' +
        'An API key belongs in an environment variable whose name you pass with --api-key-env NAME (sent as Authorization: Bearer).',
    ])
    expect(notes.join('')).not.toContain(key)
    expect(notes.join('')).not.toContain('alice')
    // A bare key as the whole query (no name=value) is not echoed either.
    expect(ignoredEndpointParts(`http://h/?${key}`)).toBe(
      '--endpoint holds a query string (?...): capplan ignores it and sends it nowhere (values not shown). ' +
        'An API key belongs in an environment variable whose name you pass with --api-key-env NAME (sent as Authorization: Bearer).',
    )
    expect(ignoredEndpointParts(`https://${key}@h`)).toMatch(/^--endpoint holds credentials \(user:password@\): capplan ignores it /)
    expect(ignoredEndpointParts('http://h:8000/v1#frag')).toMatch(/^--endpoint holds a fragment \(#...\): /)
    // Nothing dropped, nothing said; an unparseable URL is normalizeEndpoint's to report.
    expect(ignoredEndpointParts('http://h:8000/v1/')).toBeNull()
    expect(ignoredEndpointParts('not a url')).toBeNull()
    const quiet: string[] = []
    new OpenAiEngine({endpoint: 'http://h:8000', onNote: (note) => quiet.push(note)})
    expect(quiet).toEqual([])
  })

  it('an --api-key-env naming an unset variable is INVALID_INPUT (exit 3)', () => {
    expect(readApiKey(undefined, {})).toBeNull()
    expect(readApiKey('K', {K: ' abc '})).toBe('abc')
    let error: unknown = null
    try {
      readApiKey('MISSING_KEY', {})
    } catch (e) {
      error = e
    }
    expect((error as CapplanError).exitCode).toBe(3)
    expect((error as CapplanError).message).toBe('--api-key-env names MISSING_KEY, but that environment variable is not set.')
  })
})

describe('transport', () => {
  it('streams over node:http unless told otherwise (fetch stamps two chunks of a stall at one instant: perf/README.md)', async () => {
    // node:http announces every request it starts on this channel; fetch (undici) never does.
    const seen: string[] = []
    const onStart = (message: unknown) => seen.push(String((message as {request: {path: string}}).request.path))
    subscribe('http.client.request.start', onStart)
    try {
      for (const transport of [undefined, 'fetch'] as const) {
        const engine = new OpenAiEngine({endpoint: server.url, ...(transport === undefined ? {} : {transport})})
        await engine.start()
        const events = await collect(engine.stream({promptTokens: [1, 2, 3], promptText: null, maxTokens: 32, ignoreEos: true}, new AbortController().signal))
        expect(events.at(-1)?.kind).toBe('usage')
        await engine.stop()
      }
    } finally {
      unsubscribe('http.client.request.start', onStart)
    }
    // One streamed POST over node:http: the default engine's. The fetch engine's POST (and both engines' GET
    // /v1/models, which goes through fetch) left no trace on the channel.
    expect(seen).toEqual(['/v1/completions'])
  })
})
