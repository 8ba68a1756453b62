import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {ClientEvent, WireProtocol} from '../../../../src/engines/http/protocols.js'
import {streamRequest} from '../../../../src/engines/http/stream.js'
import type {HttpTransport} from '../../../../src/engines/http/transport.js'
import {llamaFixture, type ReplayServer, startReplayServer} from '../../../helpers/replay-server.js'

/**
 * streamRequest's node:http transport (transport: 'node-http', used for spawned servers) against the same
 * recorded bytes as the default fetch transport: the SAME events (arrival times aside), so switching
 * transports changes timing precision only.
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
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 128, completionTokens: 32, cachedTokens: 0})
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

// The fault contract (HTTP errors, drops, hangs, aborts, refused connections, stale sockets, redaction, the
// drain after [DONE], connection headers) runs for both transports in stream-faults.test.ts.
