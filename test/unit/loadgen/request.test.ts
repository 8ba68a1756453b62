import {describe, expect, it} from 'vitest'

import type {Engine, GenRequest, StreamEvent} from '../../../src/engines/types.js'
import {runRequest} from '../../../src/loadgen/request.js'

/** An engine that replays a fixed list of events (or throws after them): tests the record, not timing. */
function replay(events: StreamEvent[], options: {throwAfter?: string; onStart?: () => void} = {}): Engine {
  return {
    async start() {},
    async stop() {},
    info: () => ({kind: 'openai' as const, version: null, build: null, backend: 'remote', threads: null, gpuCount: 0, args: [], endpoint: null}),
    async *stream(): AsyncGenerator<StreamEvent> {
      options.onStart?.()
      for (const event of events) yield event
      if (options.throwAfter !== undefined) throw new Error(options.throwAfter)
    },
  }
}

const tokens = (n: number): GenRequest => ({promptTokens: Array.from({length: n}, (_, i) => i), promptText: null, maxTokens: 8, ignoreEos: true})
const text: GenRequest = {promptTokens: null, promptText: 'hello', maxTokens: 8, ignoreEos: true}

describe('runRequest', () => {
  it('times every chunk from its own start and the start from t0; the engine usage wins', async () => {
    const base = performance.now() + 1000
    const engine = replay([
      {kind: 'content', atMs: base + 10, tokens: 1},
      {kind: 'content', atMs: base + 25, tokens: 1},
      {kind: 'usage', promptTokens: 7, completionTokens: 2},
    ])
    const t0 = performance.now() - 50
    const timed = await runRequest(engine, tokens(3), 4, {t0, signal: new AbortController().signal})
    const {record} = timed
    expect(record.index).toBe(4)
    expect(record.startMs).toBeGreaterThanOrEqual(50)
    const startAt = record.startMs + t0
    expect(record.chunkOffsetsMs).toEqual([base + 10 - startAt, base + 25 - startAt].map((ms) => expect.closeTo(ms, 9)))
    expect(record.ttftMs).toBe(record.chunkOffsetsMs[0])
    expect(record.e2eMs).toBe(record.chunkOffsetsMs[1])
    expect(record.inputTokens).toBe(7)
    expect(record.outputTokens).toBe(2)
    expect(record.countedTokens).toBe(2)
    expect(record.chunkTokens).toBeNull()
    expect(record.error).toBeNull()
    // the request ended at its last content event
    expect(timed.endAt).toBe(base + 25)
    expect(timed.aborted).toBe(false)
  })

  it('clamps a clock that goes backwards, so offsets never decrease', async () => {
    const base = performance.now() + 1000
    const engine = replay([
      {kind: 'content', atMs: base + 20, tokens: 2},
      {kind: 'content', atMs: base + 5, tokens: 1},
    ])
    const {record} = await runRequest(engine, tokens(2), 0, {t0: 0, signal: new AbortController().signal})
    expect(record.chunkOffsetsMs[1]).toBe(record.chunkOffsetsMs[0])
    expect(record.chunkTokens).toEqual([2, 1])
  })

  it('without usage: input tokens from the prompt ids (0 for text), output tokens as streamed', async () => {
    const events: StreamEvent[] = [{kind: 'content', atMs: performance.now(), tokens: 3}]
    const byIds = await runRequest(replay(events), tokens(5), 0, {t0: 0, signal: new AbortController().signal})
    expect([byIds.record.inputTokens, byIds.record.outputTokens, byIds.record.countedTokens]).toEqual([5, 3, 3])
    const byText = await runRequest(replay(events), text, 0, {t0: 0, signal: new AbortController().signal})
    expect(byText.record.inputTokens).toBe(0)
  })

  it('records an error event and a thrown stream as the request error, with no timing when nothing came', async () => {
    const failed = await runRequest(replay([{kind: 'error', errorKind: 'http', message: 'HTTP 500'}]), tokens(1), 0, {t0: 0, signal: new AbortController().signal})
    expect(failed.record.error).toEqual({kind: 'http', message: 'HTTP 500'})
    expect([failed.record.ttftMs, failed.record.e2eMs]).toEqual([null, null])
    const thrown = await runRequest(replay([{kind: 'content', atMs: performance.now(), tokens: 1}], {throwAfter: 'socket hang up'}), tokens(1), 0, {
      t0: 0,
      signal: new AbortController().signal,
    })
    expect(thrown.record.error).toEqual({kind: 'engine', message: 'socket hang up'})
    expect(thrown.record.countedTokens).toBe(1)
  })

  it('counts tokens as they stream and marks a request that ended after the signal as aborted', async () => {
    const controller = new AbortController()
    const seen: number[] = []
    const engine = replay([
      {kind: 'content', atMs: performance.now(), tokens: 2},
      {kind: 'content', atMs: performance.now(), tokens: 3},
    ])
    const timed = await runRequest(engine, tokens(1), 0, {
      t0: 0,
      signal: controller.signal,
      onTokens: (n) => {
        seen.push(n)
        controller.abort()
      },
    })
    expect(seen).toEqual([2, 3])
    expect(timed.aborted).toBe(true)
  })
})
