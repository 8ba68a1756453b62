import {createServer} from 'node:net'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type ClientEvent, type HttpTransport, streamRequest, type WireProtocol} from '../../../src/load/stream-client.js'
import {llamaFixture, rawHttpRoute, type ReplayServer, startReplayServer} from '../../helpers/replay-server.js'

/**
 * streamRequest's opt-in node:http transport (transport: 'node-http') against the same recorded bytes and
 * injected faults as the default fetch transport: the SAME events (arrival times aside) and the same error
 * kinds and messages, so switching transports changes timing precision only.
 */

let server: ReplayServer
beforeAll(async () => {
  server = await startReplayServer()
})
afterAll(async () => server.close())

interface RunOptions {
  protocol?: WireProtocol
  timeoutMs?: number | null
  signal?: AbortSignal
  headers?: Record<string, string>
  secrets?: string[]
  keepAlive?: boolean
}

async function run(transport: HttpTransport, path: string, options: RunOptions = {}): Promise<ClientEvent[]> {
  const events: ClientEvent[] = []
  for await (const event of streamRequest({
    url: `${server.url}${path}`,
    protocol: options.protocol ?? 'llamacpp-completion',
    body: {prompt: [1, 2, 3]},
    signal: options.signal ?? new AbortController().signal,
    timeoutMs: options.timeoutMs === undefined ? 10_000 : options.timeoutMs,
    headers: options.headers,
    secrets: options.secrets,
    keepAlive: options.keepAlive,
    transport,
  })) {
    events.push(event)
  }
  return events
}

/** Events without their arrival times (those depend on the reads, and so on the transport, by design). */
const timeless = (events: ClientEvent[]) => events.map((event) => (event.kind === 'content' ? {...event, atMs: 0} : event))
const contentCount = (events: ClientEvent[]) => events.filter((e) => e.kind === 'content').length
const errors = (events: ClientEvent[]) => events.filter((e): e is Extract<ClientEvent, {kind: 'error'}> => e.kind === 'error')

/** Byte offset just after the n-th blank line ("\n\n") of a fixture = the end of its n-th event. */
function endOfEvent(bytes: Buffer, n: number): number {
  let at = -2
  for (let i = 0; i < n; i++) at = bytes.indexOf('\n\n', at + 2)
  return at + 2
}

describe("node-http transport gives fetch's events", () => {
  const streams: [string, WireProtocol, number | undefined][] = [
    ['completion_stream_ids.sse', 'llamacpp-completion', undefined],
    ['completion_stream_ids.sse', 'llamacpp-completion', 1], // one byte per write
    ['v1_completions_stream.sse', 'openai-completions', 7],
    ['v1_chat_completions_stream.sse', 'openai-chat', 64],
    ['failure_invalid_utf8_stream.sse', 'llamacpp-completion', 4096],
  ]
  for (const [file, protocol, chunks] of streams) {
    it(`${file} in ${chunks ?? 'one'}-byte writes (${protocol})`, async () => {
      server.route('POST /same', {body: llamaFixture(file), ...(chunks === undefined ? {} : {chunks})})
      const viaFetch = await run('fetch', '/same', {protocol})
      const viaNodeHttp = await run('node-http', '/same', {protocol})
      expect(timeless(viaNodeHttp)).toEqual(timeless(viaFetch))
      // Not vacuous: each of these recordings holds content.
      expect(contentCount(viaNodeHttp)).toBeGreaterThan(0)
    })
  }

  it('the recorded /completion stream: 32 content events, then usage 128 + 32; times non-decreasing', async () => {
    server.route('POST /completion', {body: llamaFixture('completion_stream_ids.sse'), chunks: 512})
    const events = await run('node-http', '/completion')
    expect(contentCount(events)).toBe(32)
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 128, completionTokens: 32})
    const times = events.flatMap((e) => (e.kind === 'content' ? [e.atMs] : []))
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!)
  })

  it('sends the JSON body with content-length, the SSE accept header and the caller headers', async () => {
    server.route('POST /headers', {body: llamaFixture('completion_stream_ids.sse')})
    await run('node-http', '/headers', {headers: {authorization: 'Bearer k-123456'}})
    const sent = server.requests.at(-1)!
    expect(JSON.parse(sent.body)).toEqual({prompt: [1, 2, 3]})
    expect(sent.headers['content-type']).toBe('application/json')
    // '{"prompt":[1,2,3]}' is 18 bytes
    expect(sent.headers['content-length']).toBe('18')
    expect(sent.headers.accept).toBe('text/event-stream')
    expect(sent.headers.authorization).toBe('Bearer k-123456')
  })
})

describe('node-http transport faults', () => {
  it('HTTP 400 and 500 with the recorded bodies -> kind http with the server message', async () => {
    server.route('POST /too-long', rawHttpRoute(llamaFixture('error_prompt_too_long.txt')))
    expect(await run('node-http', '/too-long')).toEqual([
      {
        kind: 'error',
        errorKind: 'http',
        message:
          'POST /too-long: HTTP 400 Bad Request: request (5000 tokens) exceeds the available context size (2048 tokens), try increasing it (exceed_context_size_error)',
      },
    ])
    server.route('POST /bad-json', rawHttpRoute(llamaFixture('error_bad_json.txt')))
    const [event] = await run('node-http', '/bad-json')
    expect((event as {message: string}).message).toMatch(/^POST \/bad-json: HTTP 500 Internal Server Error: \[json\.exception\.parse_error\.101\] parse error/)
  })

  it('the server dropping the socket mid-stream -> dropped after the 10 events that arrived, as with fetch', async () => {
    const bytes = llamaFixture('completion_stream_ids.sse')
    server.route('POST /crash', {body: bytes, chunks: 256, dropAfterBytes: endOfEvent(bytes, 10)})
    const events = await run('node-http', '/crash')
    expect(contentCount(events)).toBe(10)
    expect(errors(events)).toEqual([
      {kind: 'error', errorKind: 'dropped', message: 'The connection closed before the final event (stop: true), after 10 content event(s).'},
    ])
  })

  it('a stream that never ends -> timeout at the per-request limit', async () => {
    const bytes = llamaFixture('completion_stream_ids.sse')
    server.route('POST /hang', {body: bytes.subarray(0, endOfEvent(bytes, 5)), hang: true})
    const events = await run('node-http', '/hang', {timeoutMs: 300})
    expect(contentCount(events)).toBe(5)
    expect(errors(events)).toEqual([
      {kind: 'error', errorKind: 'timeout', message: 'POST /hang did not finish within the 300 ms request timeout (after 5 content event(s)).'},
    ])
  })

  it("the caller's abort ends the request as dropped (interrupted), nothing read after it", async () => {
    const bytes = llamaFixture('completion_stream_ids.sse')
    server.route('POST /slow', {body: bytes.subarray(0, endOfEvent(bytes, 3)), hang: true})
    const controller = new AbortController()
    const events: ClientEvent[] = []
    for await (const event of streamRequest({
      url: `${server.url}/slow`,
      protocol: 'llamacpp-completion',
      body: {},
      signal: controller.signal,
      timeoutMs: null,
      transport: 'node-http',
    })) {
      events.push(event)
      if (contentCount(events) === 3) controller.abort()
    }
    expect(contentCount(events)).toBe(3)
    expect(errors(events)).toEqual([
      {kind: 'error', errorKind: 'dropped', message: 'POST /slow was stopped by the caller (interrupted) after 3 content event(s).'},
    ])
  })

  it('a refused connection -> dropped before the response, naming ECONNREFUSED', async () => {
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
      transport: 'node-http',
    })) {
      events.push(event)
    }
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({kind: 'error', errorKind: 'dropped'})
    expect((events[0] as {message: string}).message).toContain('before the response')
    expect((events[0] as {message: string}).message).toContain('ECONNREFUSED')
  })

  it('a connection closed without any answer is sent again, at most twice more', async () => {
    let calls = 0
    server.route('POST /stale-once', () => (++calls === 1 ? {body: '', closeWithoutResponse: true} : {body: llamaFixture('completion_stream_ids.sse')}))
    const events = await run('node-http', '/stale-once')
    expect(calls).toBe(2)
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 128, completionTokens: 32})

    let always = 0
    server.route('POST /stale-always', () => {
      always++
      return {body: '', closeWithoutResponse: true}
    })
    const failed = await run('node-http', '/stale-always')
    expect(always).toBe(3)
    expect(failed).toHaveLength(1)
    expect(failed[0]).toMatchObject({kind: 'error', errorKind: 'dropped'})
    expect((failed[0] as {message: string}).message).toContain('other side closed')
  })

  it('never echoes the API key', async () => {
    const key = 'sk-test-0123456789'
    server.route('POST /v1/chat/completions', (request) => ({
      status: 401,
      body: JSON.stringify({error: {message: `Incorrect API key provided: ${request.headers.authorization}`, type: 'invalid_request_error'}}),
    }))
    const [event] = await run('node-http', '/v1/chat/completions', {protocol: 'openai-chat', headers: {authorization: `Bearer ${key}`}, secrets: [key]})
    expect(event).toEqual({
      kind: 'error',
      errorKind: 'http',
      message: 'POST /v1/chat/completions: HTTP 401 Unauthorized: Incorrect API key provided: Bearer *** (invalid_request_error)',
    })
  })

  it('a server that keeps the connection open after [DONE] still completes the request (bounded drain)', async () => {
    server.route('POST /v1/completions', {body: llamaFixture('v1_completions_stream.sse'), hang: true})
    const events = await run('node-http', '/v1/completions', {protocol: 'openai-completions', timeoutMs: 5000})
    expect(contentCount(events)).toBe(32)
    expect(errors(events)).toEqual([])
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 128, completionTokens: 32})
  })

  it('keepAlive: false sends connection: close; the default keeps the connection alive', async () => {
    server.route('POST /close', {body: llamaFixture('completion_stream_ids.sse')})
    const closed = await run('node-http', '/close', {keepAlive: false})
    expect(server.requests.at(-1)!.headers.connection).toBe('close')
    expect(closed.at(-1)).toEqual({kind: 'usage', promptTokens: 128, completionTokens: 32})
    await run('node-http', '/close')
    expect(server.requests.at(-1)!.headers.connection).toBe('keep-alive')
  })

  it('a 200 answered with JSON instead of an event stream -> stream-error with the server message', async () => {
    server.route('POST /json', {status: 200, headers: {'content-type': 'application/json'}, body: '{"error":{"message":"no streaming here","type":"x"}}'})
    expect(await run('node-http', '/json')).toEqual([
      {kind: 'error', errorKind: 'stream-error', message: 'POST /json answered 200 with application/json instead of an event stream: no streaming here (x)'},
    ])
  })
})
