import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ClientThreads, clientThreadGcPauses, useClientThreads} from '../../../../src/engines/http/client-threads.js'
import type {ClientEvent, WireProtocol} from '../../../../src/engines/http/protocols.js'
import {type StreamRequestOptions, streamRequest, streamRequestHere} from '../../../../src/engines/http/stream.js'
import {gcPauseDistributionSchema} from '../../../../src/results/client-health.js'
import {watchClientHealth} from '../../../../src/telemetry/client-health.js'
import {llamaFixture, type ReplayServer, startReplayServer} from '../../../helpers/replay-server.js'

/**
 * Client threads (client-threads.ts): a request streamed in a worker thread gives the same events as in this
 * thread (same transports, framing, interpreter, error events), with arrival times on this thread's clock.
 */

let server: ReplayServer
let threads: ClientThreads
beforeAll(async () => {
  server = await startReplayServer()
  threads = new ClientThreads(2)
})
afterAll(async () => {
  await threads.close()
  await server.close()
})

const options = (path: string, protocol: WireProtocol = 'llamacpp-completion', signal = new AbortController().signal): StreamRequestOptions => ({
  url: `${server.url}${path}`,
  protocol,
  body: {prompt: [1, 2, 3]},
  signal,
  timeoutMs: 10_000,
  transport: 'node-http',
  keepAlive: false,
})

async function collect(events: AsyncIterable<ClientEvent>): Promise<ClientEvent[]> {
  const out: ClientEvent[] = []
  for await (const event of events) out.push(event)
  return out
}

const timeless = (events: ClientEvent[]) => events.map((event) => (event.kind === 'content' ? {...event, atMs: 0} : event))

describe('client threads', () => {
  const streams: [string, WireProtocol, number][] = [
    ['completion_stream_ids.sse', 'llamacpp-completion', 64],
    ['v1_completions_stream.sse', 'openai-completions', 7],
    ['v1_chat_completions_stream.sse', 'openai-chat', 64],
    ['failure_invalid_utf8_stream.sse', 'llamacpp-completion', 4096],
  ]
  for (const [file, protocol, chunks] of streams) {
    it(`${file}: the same events as in this thread (${protocol})`, async () => {
      server.route('POST /same', {body: llamaFixture(file), chunks})
      const here = await collect(streamRequestHere(options('/same', protocol)))
      const there = await collect(threads.stream(options('/same', protocol)))
      expect(here.length).toBeGreaterThan(1)
      expect(timeless(there)).toEqual(timeless(here))
    })
  }

  it("stamps on this thread's clock: every arrival time between the send and the last event's delivery", async () => {
    server.route('POST /timed', {body: llamaFixture('completion_stream_ids.sse'), chunks: 256, delayMs: 5})
    const before = performance.now()
    const events = await collect(threads.stream(options('/timed')))
    const after = performance.now()
    const times = events.flatMap((event) => (event.kind === 'content' ? [event.atMs] : []))
    // 32 content events in the recorded stream; written in pieces 5 ms apart, so they span >= 5 ms.
    expect(times).toHaveLength(32)
    expect(times[0]!).toBeGreaterThan(before)
    expect(times.at(-1)!).toBeLessThan(after)
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!)
    expect(times.at(-1)! - times[0]!).toBeGreaterThan(5)
  })

  it('errors cross as error events: HTTP status, a dropped connection, the caller aborting a hanging stream', async () => {
    server.route('POST /500', {status: 500, body: JSON.stringify({error: {message: 'boom', type: 'server_error'}})})
    expect(await collect(threads.stream(options('/500')))).toEqual([
      {kind: 'error', errorKind: 'http', message: 'POST /500: HTTP 500 Internal Server Error: boom (server_error)'},
    ])
    server.route('POST /drop', {body: llamaFixture('completion_stream_ids.sse'), dropAfterBytes: 600})
    const dropped = await collect(threads.stream(options('/drop')))
    expect(dropped.at(-1)).toMatchObject({kind: 'error', errorKind: 'dropped'})
    expect(timeless(dropped)).toEqual(timeless(await collect(streamRequestHere(options('/drop')))))
    server.route('POST /hang', {body: llamaFixture('completion_stream_ids.sse').subarray(0, 600), hang: true})
    const controller = new AbortController()
    const events: ClientEvent[] = []
    for await (const event of threads.stream(options('/hang', 'llamacpp-completion', controller.signal))) {
      events.push(event)
      if (event.kind === 'content') controller.abort()
    }
    expect(events[0]?.kind).toBe('content')
    expect(events.at(-1)).toMatchObject({kind: 'error', errorKind: 'dropped', message: expect.stringContaining('stopped by the caller')})
  })

  it('useClientThreads routes streamRequest through the threads, and back to this thread when undone', async () => {
    server.route('POST /routed', {body: llamaFixture('completion_stream_ids.sse'), chunks: 512})
    const undo = useClientThreads(2)
    let threadedEvents: ClientEvent[]
    try {
      // 8 at once over 2 threads: each request's events stay with their request.
      threadedEvents = (await Promise.all(Array.from({length: 8}, () => collect(streamRequest(options('/routed')))))).flat()
    } finally {
      await undo()
    }
    const here = await collect(streamRequest(options('/routed')))
    expect(here.filter((e) => e.kind === 'content')).toHaveLength(32)
    expect(timeless(threadedEvents)).toEqual(Array.from({length: 8}, () => timeless(here)).flat())
    expect(() => useClientThreads(0)).toThrow(RangeError)
  })

  it('each worker reports its own GC pauses over a window (clientHealth.threadGcPauseMs), none without threads', async () => {
    expect(await clientThreadGcPauses(0, performance.now())).toBeNull()
    const noThreads = await watchClientHealth({threadGc: clientThreadGcPauses}).stop()
    expect(noThreads).not.toHaveProperty('threadGcPauseMs')
    server.route('POST /garbage', {body: llamaFixture('failure_invalid_utf8_stream.sse'), chunks: 4096})
    const undo = useClientThreads(2)
    try {
      const watch = watchClientHealth({threadGc: clientThreadGcPauses})
      const from = performance.now()
      // Enough reads, events and messages for the workers' young generations to fill several times.
      for (let round = 0; round < 6; round++) await Promise.all(Array.from({length: 4}, () => collect(streamRequest(options('/garbage')))))
      const to = performance.now()
      const health = await watch.stop()
      expect(health.threadGcPauseMs).toHaveLength(2)
      for (const thread of health.threadGcPauseMs!) expect(gcPauseDistributionSchema.safeParse(thread).success).toBe(true)
      const asked = await clientThreadGcPauses(from, to)
      expect(asked).toHaveLength(2)
      const collections = asked!.reduce((sum, thread) => sum + thread.count, 0)
      expect(collections).toBeGreaterThan(0)
      expect(asked!.reduce((sum, thread) => sum + thread.totalMs, 0)).toBeGreaterThan(0)
      // Only pauses that started inside the window: a window after now holds none.
      const later = await clientThreadGcPauses(to + 60_000, to + 120_000)
      expect(later!.map((thread) => thread.count)).toEqual([0, 0])
    } finally {
      await undo()
    }
  })
})
