import {createServer} from 'node:net'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type ClientEvent, decodeTokensPerSecond, type WireProtocol} from '../../../../src/engines/http/protocols.js'
import {streamRequest} from '../../../../src/engines/http/stream.js'
import type {HttpTransport} from '../../../../src/engines/http/transport.js'
import {llamaFixture, rawHttpRoute, type ReplayServer, startReplayServer} from '../../../helpers/replay-server.js'

/**
 * The recorded llama-server streams (test/fixtures/llama-server) through the real client over HTTP:
 * exact event counts and usage numbers as read from the files.
 */

let server: ReplayServer
beforeAll(async () => {
  server = await startReplayServer()
  server.route('POST /completion', {body: llamaFixture('completion_stream_ids.sse')})
  server.route('POST /v1/completions', {body: llamaFixture('v1_completions_stream.sse')})
  server.route('POST /v1/chat/completions', {body: llamaFixture('v1_chat_completions_stream.sse')})
})
afterAll(async () => server.close())

async function run(protocol: WireProtocol, path: string, body: unknown = {}): Promise<ClientEvent[]> {
  const events: ClientEvent[] = []
  for await (const event of streamRequest({url: `${server.url}${path}`, protocol, body, signal: new AbortController().signal, timeoutMs: 10_000})) {
    events.push(event)
  }
  return events
}

const only = <K extends ClientEvent['kind']>(events: ClientEvent[], kind: K) => events.filter((e): e is Extract<ClientEvent, {kind: K}> => e.kind === kind)

describe('streamRequest on recorded llama-server streams', () => {
  it('/completion (token-id prompt): 32 one-token content events, then usage from the final stop event', async () => {
    const events = await run('llamacpp-completion', '/completion')
    const content = only(events, 'content')
    // 33 data events in the file: 32 with one id in `tokens`, the final one with tokens [] and stop: true.
    expect(content).toHaveLength(32)
    expect(content.every((e) => e.tokens === 1)).toBe(true)
    expect(content[0]!.text).toBe('n:!')
    expect(content[1]!.text).toBe('va!')
    // The final event: "tokens_predicted":32,"tokens_evaluated":128
    expect(only(events, 'usage')).toEqual([{kind: 'usage', promptTokens: 128, completionTokens: 32, cachedTokens: 0}])
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 128, completionTokens: 32, cachedTokens: 0})
    expect(only(events, 'error')).toEqual([])
    // "timings":{"cache_n":0,"prompt_n":128,"prompt_ms":751.096,...,"predicted_n":32,"predicted_ms":547.746}
    const [timings] = only(events, 'server-timings')
    expect(timings!.timings).toEqual({
      promptTokens: 128,
      promptMs: 751.096,
      predictedTokens: 32,
      predictedMs: 547.746,
      cachedTokens: 0,
      draftTokens: null,
      draftAccepted: null,
    })
    // Corrected decode speed: (32 - 1) / 0.547746 s = 56.5956 tok/s (the server's own 58.42 counts n, not n - 1).
    expect(decodeTokensPerSecond(timings!.timings)).toBeCloseTo(56.5956, 3)
  })

  it('/v1/completions: 32 content events; usage comes from the LAST choices chunk (llama.cpp style)', async () => {
    const events = await run('openai-completions', '/v1/completions')
    // 34 data lines: 32 with text, one with text "" + finish_reason "length" + usage, then [DONE].
    expect(only(events, 'content')).toHaveLength(32)
    expect(only(events, 'content')[0]!.text).toBe('xO')
    // "usage":{"completion_tokens":32,"prompt_tokens":128,"total_tokens":160,...}
    expect(only(events, 'usage')).toEqual([{kind: 'usage', promptTokens: 128, completionTokens: 32, cachedTokens: 0}])
    expect(only(events, 'server-timings')[0]!.timings.predictedMs).toBe(534.425)
  })

  it('/v1/chat/completions: the role chunk is not content; 16 content events; usage from the choices:[] chunk', async () => {
    const events = await run('openai-chat', '/v1/chat/completions')
    // 20 data lines: role chunk (content null), 16 content deltas, finish chunk, choices:[] + usage, [DONE].
    const content = only(events, 'content')
    expect(content).toHaveLength(16)
    expect(content[0]!.text).toBe('zR"')
    expect(content.at(-1)!.text).toBe('Ar!')
    expect(only(events, 'usage')).toEqual([{kind: 'usage', promptTokens: 23, completionTokens: 16, cachedTokens: 0}])
  })

  it('sends the request body as JSON with an SSE accept header', async () => {
    const before = server.requests.length
    await run('llamacpp-completion', '/completion', {prompt: [1, 2], n_predict: 4})
    const sent = server.requests[before]!
    expect(JSON.parse(sent.body)).toEqual({prompt: [1, 2], n_predict: 4})
    expect(sent.headers['content-type']).toBe('application/json')
    expect(sent.headers.accept).toBe('text/event-stream')
  })
})

/**
 * Every failure kind, injected into recorded llama-server bytes by a replay server of their own (`faulty`,
 * so the recorded routes above stay as they are). Each must end the REQUEST with exactly one error event of
 * the right kind (never a throw), after the content that arrived. The same contract for both transports
 * (fetch for endpoints, node-http for spawned servers).
 */

const transports: HttpTransport[] = ['fetch', 'node-http']

let faulty: ReplayServer
beforeAll(async () => {
  faulty = await startReplayServer()
})
afterAll(async () => faulty.close())

async function runWith(
  transport: HttpTransport,
  path: string,
  options: {protocol?: WireProtocol; timeoutMs?: number; signal?: AbortSignal; headers?: Record<string, string>; secrets?: string[]; keepAlive?: boolean} = {},
): Promise<ClientEvent[]> {
  const events: ClientEvent[] = []
  for await (const event of streamRequest({
    url: `${faulty.url}${path}`,
    protocol: options.protocol ?? 'llamacpp-completion',
    body: {prompt: [1, 2, 3]},
    signal: options.signal ?? new AbortController().signal,
    timeoutMs: options.timeoutMs ?? 10_000,
    headers: options.headers,
    secrets: options.secrets,
    keepAlive: options.keepAlive,
    transport,
  })) {
    events.push(event)
  }
  return events
}

const contentCount = (events: ClientEvent[]) => events.filter((e) => e.kind === 'content').length
const errors = (events: ClientEvent[]) => events.filter((e): e is Extract<ClientEvent, {kind: 'error'}> => e.kind === 'error')

/** Byte offset just after the n-th blank line ("\n\n") of a fixture = the end of its n-th event. */
function endOfEvent(bytes: Buffer, n: number): number {
  let at = -2
  for (let i = 0; i < n; i++) at = bytes.indexOf('\n\n', at + 2)
  return at + 2
}

describe.each(transports)('stream faults over %s', (transport) => {
  const run = (path: string, options?: Parameters<typeof runWith>[2]) => runWith(transport, path, options)

  it('a body delivered one byte per write parses exactly like the whole body', async () => {
    faulty.route('POST /bytewise', {body: llamaFixture('completion_stream_ids.sse'), chunks: 1})
    const events = await run('/bytewise')
    expect(contentCount(events)).toBe(32)
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 128, completionTokens: 32, cachedTokens: 0})
  })

  it('an error event inside a 200 stream fails the request (stream-error) after its 202 tokens of content', async () => {
    faulty.route('POST /utf8-failure', {body: llamaFixture('failure_invalid_utf8_stream.sse'), chunks: 4096})
    const events = await run('/utf8-failure')
    // 203 data events in the file: 202 tokens ("tokens_predicted":202 on the last), then {"error":{...}}.
    expect(contentCount(events)).toBe(202)
    expect(events.filter((e) => e.kind === 'usage')).toEqual([])
    const [error] = errors(events)
    expect(errors(events)).toHaveLength(1)
    expect(error!.errorKind).toBe('stream-error')
    expect(error!.message).toContain('after 202 content event(s)')
    expect(error!.message).toContain('The model produced output that does not match the expected Content-only format (server_error)')
    expect(events.at(-1)).toBe(error)
  })

  it('HTTP 400 with the recorded llama.cpp error body -> kind http with status and message', async () => {
    faulty.route('POST /too-long', rawHttpRoute(llamaFixture('error_prompt_too_long.txt')))
    const events = await run('/too-long')
    expect(events).toEqual([
      {
        kind: 'error',
        errorKind: 'http',
        message: 'POST /too-long: HTTP 400 Bad Request: request (5000 tokens) exceeds the available context size (2048 tokens), try increasing it (exceed_context_size_error)',
      },
    ])
  })

  it('HTTP 500 with the recorded JSON error -> kind http', async () => {
    faulty.route('POST /bad-json', rawHttpRoute(llamaFixture('error_bad_json.txt')))
    const [event] = await run('/bad-json')
    expect(event).toMatchObject({kind: 'error', errorKind: 'http'})
    expect((event as {message: string}).message).toMatch(/^POST \/bad-json: HTTP 500 Internal Server Error: \[json\.exception\.parse_error\.101\] parse error/)
  })

  it('the server dropping the socket mid-stream -> kind dropped, after the events that arrived', async () => {
    const bytes = llamaFixture('completion_stream_ids.sse')
    faulty.route('POST /crash', {body: bytes, chunks: 256, dropAfterBytes: endOfEvent(bytes, 10)})
    const events = await run('/crash')
    expect(contentCount(events)).toBe(10)
    expect(errors(events)).toHaveLength(1)
    expect(errors(events)[0]!.errorKind).toBe('dropped')
    expect(events.filter((e) => e.kind === 'usage')).toEqual([])
  })

  it('a stream that never ends -> kind timeout at the per-request limit', async () => {
    const bytes = llamaFixture('completion_stream_ids.sse')
    // The first 5 events are written, then nothing more and the response never ends.
    faulty.route('POST /hang', {body: bytes.subarray(0, endOfEvent(bytes, 5)), hang: true})
    const events = await run('/hang', {timeoutMs: 300})
    expect(contentCount(events)).toBe(5)
    expect(errors(events)).toEqual([{kind: 'error', errorKind: 'timeout', message: 'POST /hang did not finish within the 300 ms request timeout (after 5 content event(s)).'}])
  })

  it("the caller's abort signal ends the request as dropped (interrupted)", async () => {
    const bytes = llamaFixture('completion_stream_ids.sse')
    faulty.route('POST /slow', {body: bytes.subarray(0, endOfEvent(bytes, 3)), hang: true})
    const controller = new AbortController()
    const events: ClientEvent[] = []
    for await (const event of streamRequest({url: `${faulty.url}/slow`, protocol: 'llamacpp-completion', body: {}, signal: controller.signal, timeoutMs: null, transport})) {
      events.push(event)
      if (contentCount(events) === 3) controller.abort()
    }
    expect(contentCount(events)).toBe(3)
    expect(errors(events)).toEqual([{kind: 'error', errorKind: 'dropped', message: 'POST /slow was stopped by the caller (interrupted) after 3 content event(s).'}])
  })

  it('malformed SSE data (an event cut mid-JSON) -> kind stream-error', async () => {
    const bytes = llamaFixture('completion_stream_ids.sse')
    const cut = endOfEvent(bytes, 2) + 40 // inside the third event's JSON
    faulty.route('POST /malformed', {body: Buffer.concat([bytes.subarray(0, cut), Buffer.from('\n\n')])})
    const events = await run('/malformed')
    expect(contentCount(events)).toBe(2)
    expect(errors(events)[0]!.errorKind).toBe('stream-error')
    expect(errors(events)[0]!.message).toContain('Malformed stream event (not JSON) after 2 content event(s)')
  })

  it('an OpenAI stream that stops before [DONE] without usage -> dropped', async () => {
    const bytes = llamaFixture('v1_completions_stream.sse')
    faulty.route('POST /v1/completions', {body: bytes.subarray(0, endOfEvent(bytes, 20))})
    const events = await run('/v1/completions', {protocol: 'openai-completions'})
    expect(contentCount(events)).toBe(20)
    expect(errors(events)).toEqual([{kind: 'error', errorKind: 'dropped', message: 'The connection closed before data: [DONE], after 20 content event(s).'}])
  })

  it('a refused connection -> dropped, before any response', async () => {
    // A port that was free a moment ago and has no listener now.
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as {port: number}).port
    await new Promise<void>((resolve) => probe.close(() => resolve()))
    const events: ClientEvent[] = []
    for await (const event of streamRequest({
      url: `http://127.0.0.1:${port}/completion`,
      protocol: 'llamacpp-completion',
      body: {},
      signal: new AbortController().signal,
      timeoutMs: 5000,
      transport,
    })) {
      events.push(event)
    }
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({kind: 'error', errorKind: 'dropped'})
    expect((events[0] as {message: string}).message).toContain('before the response')
    expect((events[0] as {message: string}).message).toContain('ECONNREFUSED')
  })

  it('never echoes the API key, even when the server puts it in its error', async () => {
    const key = 'sk-test-0123456789'
    faulty.route('POST /v1/chat/completions', (request) => ({
      status: 401,
      body: JSON.stringify({error: {message: `Incorrect API key provided: ${request.headers.authorization}`, type: 'invalid_request_error'}}),
    }))
    const [event] = await run('/v1/chat/completions', {protocol: 'openai-chat', headers: {authorization: `Bearer ${key}`}, secrets: [key]})
    expect(faulty.requests.at(-1)!.headers.authorization).toBe(`Bearer ${key}`)
    expect(event).toEqual({
      kind: 'error',
      errorKind: 'http',
      message: 'POST /v1/chat/completions: HTTP 401 Unauthorized: Incorrect API key provided: Bearer *** (invalid_request_error)',
    })
  })

  it('a connection closed without any answer is sent again (stale keep-alive socket), at most twice more', async () => {
    let calls = 0
    faulty.route('POST /stale-once', () => (++calls === 1 ? {body: '', closeWithoutResponse: true} : {body: llamaFixture('completion_stream_ids.sse')}))
    const events = await run('/stale-once')
    expect(calls).toBe(2)
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 128, completionTokens: 32, cachedTokens: 0})

    let always = 0
    faulty.route('POST /stale-always', () => {
      always++
      return {body: '', closeWithoutResponse: true}
    })
    const failed = await run('/stale-always')
    expect(always).toBe(3)
    expect(failed).toHaveLength(1)
    expect(failed[0]).toMatchObject({kind: 'error', errorKind: 'dropped'})
    expect((failed[0] as {message: string}).message).toContain('other side closed')
  })

  it('a server that keeps the connection open after [DONE] still completes the request (bounded drain)', async () => {
    faulty.route('POST /v1/completions', {body: llamaFixture('v1_completions_stream.sse'), hang: true})
    const events = await run('/v1/completions', {protocol: 'openai-completions', timeoutMs: 5000})
    expect(contentCount(events)).toBe(32)
    expect(errors(events)).toEqual([])
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 128, completionTokens: 32, cachedTokens: 0})
  })

  it('keepAlive: false asks for a fresh connection per request (connection: close)', async () => {
    faulty.route('POST /close', {body: llamaFixture('completion_stream_ids.sse')})
    const events: ClientEvent[] = []
    for await (const event of streamRequest({
      url: `${faulty.url}/close`,
      protocol: 'llamacpp-completion',
      body: {},
      signal: new AbortController().signal,
      timeoutMs: 5000,
      keepAlive: false,
      transport,
    })) {
      events.push(event)
    }
    expect(faulty.requests.at(-1)!.headers.connection).toBe('close')
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 128, completionTokens: 32, cachedTokens: 0})
    // The default keeps the connection alive (remote endpoints: no new TLS handshake per request).
    await run('/close')
    expect(faulty.requests.at(-1)!.headers.connection).toBe('keep-alive')
  })

  it('a 200 answered with JSON instead of an event stream -> stream-error with the server message', async () => {
    faulty.route('POST /json', {status: 200, headers: {'content-type': 'application/json'}, body: '{"error":{"message":"no streaming here","type":"x"}}'})
    expect(await run('/json')).toEqual([
      {kind: 'error', errorKind: 'stream-error', message: 'POST /json answered 200 with application/json instead of an event stream: no streaming here (x)'},
    ])
  })
})
