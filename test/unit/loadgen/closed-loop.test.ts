import {describe, expect, it} from 'vitest'

import type {Engine, GenRequest, StreamEvent} from '../../../src/engines/types.js'
import {runLevel, type LevelPlan} from '../../../src/loadgen/closed-loop.js'

/**
 * A scripted engine: each request streams `maxTokens` one-token events a timer tick apart, unless its
 * prompt's first token says otherwise. It tests scheduling, not inference, so a fake is right here.
 * First token 666 = the request fails with an error event; 777 = the stream throws; 888 = usage reports one
 * token more than streamed; 999 = three tokens per chunk.
 */
class ScriptedEngine implements Engine {
  active = 0
  maxActive = 0
  /** Active streams seen at each stream start (including the new one). */
  activeAtStart: number[] = []
  prompts: number[][] = []

  async start() {}
  async stop() {}
  info() {
    return {kind: 'embedded' as const, version: null, build: null, backend: 'cpu', threads: 1, gpuCount: 0, args: [], endpoint: null}
  }

  async *stream(request: GenRequest, signal: AbortSignal): AsyncGenerator<StreamEvent> {
    this.active++
    this.maxActive = Math.max(this.maxActive, this.active)
    this.activeAtStart.push(this.active)
    this.prompts.push(request.promptTokens!)
    const mode = request.promptTokens![0]
    try {
      const perChunk = mode === 999 ? 3 : 1
      let sent = 0
      while (sent < request.maxTokens) {
        await new Promise((resolve) => setTimeout(resolve, 1))
        if (signal.aborted) {
          yield {kind: 'error', errorKind: 'dropped', message: 'aborted'}
          return
        }
        if (mode === 666 && sent === 2) {
          yield {kind: 'error', errorKind: 'stream-error', message: 'scripted failure'}
          return
        }
        if (mode === 777 && sent === 1) throw new Error('scripted crash')
        const n = Math.min(perChunk, request.maxTokens - sent)
        sent += n
        yield {kind: 'content', atMs: performance.now(), tokens: n}
      }
      yield {kind: 'usage', promptTokens: request.promptTokens!.length, completionTokens: mode === 888 ? sent + 1 : sent}
    } finally {
      this.active--
    }
  }
}

const plan = (overrides: Partial<LevelPlan>): LevelPlan => ({
  concurrency: 3,
  requests: 10,
  warmupRequests: 0,
  firstPromptIndex: 0,
  makeRequest: (i) => ({promptTokens: [i, i, i], promptText: null, maxTokens: 5, ignoreEos: true}),
  ...overrides,
})

const run = (engine: Engine, levelPlan: LevelPlan, signal = new AbortController().signal) =>
  runLevel(engine, levelPlan, {t0: performance.now(), signal})

describe('runLevel (closed loop)', () => {
  it('keeps exactly N requests in flight until the last N, and records every request once', async () => {
    const engine = new ScriptedEngine()
    const level = await run(engine, plan({concurrency: 3, requests: 10}))
    expect(engine.maxActive).toBe(3)
    // The first three start as 1, 2, 3 in flight; every later start replaces a finished request: 3 in flight.
    expect(engine.activeAtStart).toEqual([1, 2, 3, 3, 3, 3, 3, 3, 3, 3])
    expect(level.status).toBe('complete')
    expect(level.requests.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    for (const request of level.requests) {
      expect(request.error).toBeNull()
      expect(request.outputTokens).toBe(5)
      expect(request.countedTokens).toBe(5)
      expect(request.inputTokens).toBe(3)
      expect(request.chunkTokens).toBeNull()
      expect(request.ttftMs).toBe(request.chunkOffsetsMs[0])
      expect(request.e2eMs).toBe(request.chunkOffsetsMs[4])
    }
  })

  it('never starts more requests than asked, even when N exceeds them', async () => {
    const engine = new ScriptedEngine()
    const level = await run(engine, plan({concurrency: 8, requests: 3}))
    expect(engine.maxActive).toBe(3)
    expect(level.requests).toHaveLength(3)
  })

  it('runs warmup requests first with their own prompts and leaves them out of the records', async () => {
    const engine = new ScriptedEngine()
    const level = await run(engine, plan({concurrency: 2, requests: 4, warmupRequests: 2, firstPromptIndex: 100}))
    expect(engine.prompts.map((p) => p[0])).toEqual([100, 101, 102, 103, 104, 105])
    expect(level.requests).toHaveLength(4)
    expect(level.warmupRequests).toBe(2)
    expect(level.promptsUsed).toBe(6)
  })

  it('spans the window from the first measured start to the last measured end', async () => {
    const engine = new ScriptedEngine()
    const level = await run(engine, plan({concurrency: 2, requests: 5, warmupRequests: 1}))
    const starts = level.requests.map((r) => r.startMs)
    const ends = level.requests.map((r) => r.startMs + r.e2eMs!)
    expect(level.window.startMs).toBe(Math.min(...starts))
    expect(level.window.endMs).toBeCloseTo(Math.max(...ends), 9)
  })

  it('records failed requests with their error and goes on with the level', async () => {
    const engine = new ScriptedEngine()
    const scripted = [0, 666, 0, 777, 0, 0]
    const level = await run(
      engine,
      plan({
        concurrency: 2,
        requests: 6,
        makeRequest: (i) => ({promptTokens: [scripted[i]!, i], promptText: null, maxTokens: 5, ignoreEos: true}),
      }),
    )
    expect(level.requests).toHaveLength(6)
    expect(level.requests[1]!.error).toEqual({kind: 'stream-error', message: 'scripted failure'})
    expect(level.requests[1]!.countedTokens).toBe(2)
    expect(level.requests[3]!.error).toEqual({kind: 'engine', message: 'scripted crash'})
    expect(level.requests.filter((r) => r.error === null)).toHaveLength(4)
    expect(level.status).toBe('complete')
  })

  it("keeps the engine's token count and the streamed count apart when they differ", async () => {
    const engine = new ScriptedEngine()
    const level = await run(
      engine,
      plan({concurrency: 1, requests: 1, makeRequest: () => ({promptTokens: [888], promptText: null, maxTokens: 4, ignoreEos: true})}),
    )
    expect(level.requests[0]!.outputTokens).toBe(5)
    expect(level.requests[0]!.countedTokens).toBe(4)
  })

  it('records tokens per chunk when a chunk carries several', async () => {
    const engine = new ScriptedEngine()
    const level = await run(
      engine,
      plan({concurrency: 1, requests: 1, makeRequest: () => ({promptTokens: [999], promptText: null, maxTokens: 7, ignoreEos: true})}),
    )
    // 7 tokens in chunks of 3: 3 + 3 + 1
    expect(level.requests[0]!.chunkTokens).toEqual([3, 3, 1])
    expect(level.requests[0]!.countedTokens).toBe(7)
  })

  it('stops at the signal, keeps only finished requests and says the level is partial', async () => {
    const engine = new ScriptedEngine()
    const controller = new AbortController()
    let finished = 0
    const level = await runLevel(
      engine,
      plan({concurrency: 2, requests: 50, makeRequest: (i) => ({promptTokens: [i], promptText: null, maxTokens: 3, ignoreEos: true})}),
      {
        t0: performance.now(),
        signal: controller.signal,
        onProgress: (progress) => {
          if (progress.done > finished) finished = progress.done
          if (progress.done >= 4) controller.abort()
        },
      },
    )
    expect(level.status).toBe('partial')
    expect(level.requests.length).toBeGreaterThanOrEqual(4)
    expect(level.requests.length).toBeLessThan(50)
    for (const request of level.requests) expect(request.countedTokens).toBe(3)
    expect(engine.active).toBe(0)
  })

  it('reports progress with live token counts', async () => {
    const engine = new ScriptedEngine()
    const seen: number[] = []
    await runLevel(engine, plan({concurrency: 2, requests: 4}), {
      t0: performance.now(),
      signal: new AbortController().signal,
      onProgress: (progress) => seen.push(progress.outputTokens),
    })
    // 4 requests x 5 tokens; counts only grow.
    expect(seen.at(-1)).toBe(20)
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!)
  })
})
