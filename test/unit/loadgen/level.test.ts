import {getEventListeners} from 'node:events'
import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import type {Engine, GenRequest, StreamEvent} from '../../../src/engines/types.js'
import {poissonScheduleMs} from '../../../src/loadgen/arrivals.js'
import {type LevelPlan, type LevelProgress, runClosedLevel, runLevel} from '../../../src/loadgen/level.js'
import {LevelFailure} from '../../../src/loadgen/request.js'

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

/** A closed loop of a fixed count: N in flight (`concurrency`), `requests` measured after `warmupRequests`. */
interface ClosedPlan {
  concurrency: number
  requests: number
  warmupRequests: number
  firstPromptIndex: number
  makeRequest: (promptIndex: number) => GenRequest
}

const closedPlan = (overrides: Partial<ClosedPlan>): LevelPlan => {
  const {concurrency, requests, ...rest}: ClosedPlan = {
    concurrency: 3,
    requests: 10,
    warmupRequests: 0,
    firstPromptIndex: 0,
    makeRequest: (i) => ({promptTokens: [i, i, i], promptText: null, maxTokens: 5, ignoreEos: true}),
    ...overrides,
  }
  return {...rest, arrival: {kind: 'concurrency', concurrency}, stop: {kind: 'requests', requests}}
}

const run = (engine: Engine, levelPlan: LevelPlan, signal = new AbortController().signal) => runLevel(engine, levelPlan, {t0: performance.now(), signal})

describe('runLevel, closed arrivals (N in flight) and a request count', () => {
  it('keeps exactly N requests in flight until the last N, and records every request once', async () => {
    const engine = new ScriptedEngine()
    const level = await run(engine, closedPlan({concurrency: 3, requests: 10}))
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
    const level = await run(engine, closedPlan({concurrency: 8, requests: 3}))
    expect(engine.maxActive).toBe(3)
    expect(level.requests).toHaveLength(3)
  })

  it('runs warmup requests first with their own prompts and leaves them out of the records', async () => {
    const engine = new ScriptedEngine()
    const level = await run(engine, closedPlan({concurrency: 2, requests: 4, warmupRequests: 2, firstPromptIndex: 100}))
    expect(engine.prompts.map((p) => p[0])).toEqual([100, 101, 102, 103, 104, 105])
    expect(level.requests).toHaveLength(4)
    expect(level.warmupRequests).toBe(2)
    expect(level.promptsUsed).toBe(6)
  })

  it('spans the window from the first measured start to the last measured end', async () => {
    const engine = new ScriptedEngine()
    const level = await run(engine, closedPlan({concurrency: 2, requests: 5, warmupRequests: 1}))
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
      closedPlan({
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
    const level = await run(engine, closedPlan({concurrency: 1, requests: 1, makeRequest: () => ({promptTokens: [888], promptText: null, maxTokens: 4, ignoreEos: true})}))
    expect(level.requests[0]!.outputTokens).toBe(5)
    expect(level.requests[0]!.countedTokens).toBe(4)
  })

  it('records tokens per chunk when a chunk carries several', async () => {
    const engine = new ScriptedEngine()
    const level = await run(engine, closedPlan({concurrency: 1, requests: 1, makeRequest: () => ({promptTokens: [999], promptText: null, maxTokens: 7, ignoreEos: true})}))
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
      closedPlan({concurrency: 2, requests: 50, makeRequest: (i) => ({promptTokens: [i], promptText: null, maxTokens: 3, ignoreEos: true})}),
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

  it('a LevelFailure abort (the engine died) records every request in flight as failed: recorded = issued', async () => {
    const engine = new ScriptedEngine()
    const controller = new AbortController()
    let issued = 0
    const level = await runLevel(
      engine,
      closedPlan({concurrency: 4, requests: 50, makeRequest: (i) => ({promptTokens: [i], promptText: null, maxTokens: 20, ignoreEos: true})}),
      {
        t0: performance.now(),
        signal: controller.signal,
        onProgress: (progress) => {
          issued = progress.issued
          if (progress.done >= 3 && !controller.signal.aborted) controller.abort(new LevelFailure('engine', 'fake-server exited (signal SIGKILL)'))
        },
      },
    )
    expect(level.status).toBe('partial')
    expect(level.requests).toHaveLength(issued)
    expect(level.requests.map((request) => request.index)).toEqual(Array.from({length: issued}, (_, i) => i))
    // The 3 finished before the abort, and the 3 still in flight then (the 4th slot was about to be refilled).
    const failed = level.requests.filter((request) => request.error !== null)
    expect(level.requests.length - failed.length).toBe(3)
    expect(failed).toHaveLength(3)
    for (const request of failed) {
      expect(request.error!.kind).toBe('engine')
      expect(request.error!.message).toMatch(/^fake-server exited \(signal SIGKILL\): cut off in flight after \d+ content event\(s\)$/)
    }
    expect(engine.active).toBe(0)
  })

  it('reports progress with live token counts', async () => {
    const engine = new ScriptedEngine()
    const seen: number[] = []
    await runLevel(engine, closedPlan({concurrency: 2, requests: 4}), {
      t0: performance.now(),
      signal: new AbortController().signal,
      onProgress: (progress) => seen.push(progress.outputTokens),
    })
    // 4 requests x 5 tokens; counts only grow.
    expect(seen.at(-1)).toBe(20)
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!)
  })
})

/**
 * A scripted engine: `maxTokens` one-token events, each after a 2 ms timer. It tests scheduling (when
 * requests are sent, how many run at once), not inference, so a fake is right here.
 */
class PacedEngine implements Engine {
  active = 0
  maxActive = 0
  sentAt: number[] = []
  prompts: number[] = []

  async start() {}
  async stop() {}
  info() {
    return {kind: 'embedded' as const, version: null, build: null, backend: 'cpu', threads: 1, gpuCount: 0, args: [], endpoint: null}
  }

  async *stream(request: GenRequest, signal: AbortSignal): AsyncGenerator<StreamEvent> {
    this.active++
    this.maxActive = Math.max(this.maxActive, this.active)
    this.sentAt.push(performance.now())
    this.prompts.push(request.promptTokens![0]!)
    try {
      for (let sent = 0; sent < request.maxTokens; sent++) {
        await new Promise((resolve) => setTimeout(resolve, 2))
        if (signal.aborted) {
          yield {kind: 'error', errorKind: 'dropped', message: 'aborted'}
          return
        }
        yield {kind: 'content', atMs: performance.now(), tokens: 1}
      }
      yield {kind: 'usage', promptTokens: 1, completionTokens: request.maxTokens}
    } finally {
      this.active--
    }
  }
}

const openPlan = (overrides: Partial<LevelPlan>): LevelPlan => ({
  arrival: {kind: 'rate', rate: 200, seed: 1, maxInFlight: 64},
  stop: {kind: 'requests', requests: 6},
  firstPromptIndex: 100,
  makeRequest: (promptIndex) => ({promptTokens: [promptIndex], promptText: null, maxTokens: 5, ignoreEos: true}),
  ...overrides,
})

describe('runLevel, Poisson arrivals and the stop rules', () => {
  it('sends every request at its scheduled time and records it like the closed loop', async () => {
    const engine = new PacedEngine()
    const t0 = performance.now()
    const run = await runLevel(engine, openPlan({}), {t0, signal: new AbortController().signal})
    expect(run.load).toEqual({kind: 'rate', value: 200})
    expect(run.status).toBe('complete')
    expect(run.stopReason).toBe('requests')
    expect(run.promptsUsed).toBe(6)
    expect(run.requests.map((request) => request.index)).toEqual([0, 1, 2, 3, 4, 5])
    // prompt indices continue from firstPromptIndex, one per request
    expect([...engine.prompts].sort((a, b) => a - b)).toEqual([100, 101, 102, 103, 104, 105])
    for (const request of run.requests) {
      expect(request.error).toBeNull()
      expect(request.outputTokens).toBe(5)
      expect(request.chunkOffsetsMs).toHaveLength(5)
    }
    // The scheduled times are the seed's Poisson schedule shifted by the level's start.
    const schedule = poissonScheduleMs(200, 1, 6)
    const scheduled = run.scheduledMs!
    expect(scheduled).toHaveLength(6)
    for (let i = 1; i < 6; i++) expect(scheduled[i]! - scheduled[0]!).toBeCloseTo(schedule[i]! - schedule[0]!, 6)
    // never sent before its time
    for (const request of run.requests) expect(request.startMs).toBeGreaterThanOrEqual(scheduled[request.index]! - 1e-6)
    expect(run.window.startMs).toBe(Math.min(...run.requests.map((request) => request.startMs)))
    expect(run.notes[0]).toMatch(/^open loop: 6 Poisson arrivals over [\d.]+s \(target 200 req\/s, seed 1\)$/)
  })

  it('does not wait for completions: slow requests overlap', async () => {
    const engine = new PacedEngine()
    // 1000 req/s (1 ms mean gap) against requests of 20 timer ticks: a closed loop of 1 would never overlap.
    await runLevel(
      engine,
      openPlan({arrival: {kind: 'rate', rate: 1000, seed: 3, maxInFlight: 64}, makeRequest: (i) => ({promptTokens: [i], promptText: null, maxTokens: 20, ignoreEos: true})}),
      {
        t0: performance.now(),
        signal: new AbortController().signal,
      },
    )
    expect(engine.maxActive).toBeGreaterThan(1)
  })

  it('holds the in-flight cap and says so in the notes', async () => {
    const engine = new PacedEngine()
    const run = await runLevel(
      engine,
      openPlan({
        arrival: {kind: 'rate', rate: 1000, seed: 3, maxInFlight: 2},
        stop: {kind: 'requests', requests: 8},
        makeRequest: (i) => ({promptTokens: [i], promptText: null, maxTokens: 20, ignoreEos: true}),
      }),
      {t0: performance.now(), signal: new AbortController().signal},
    )
    expect(engine.maxActive).toBe(2)
    expect(run.requests).toHaveLength(8)
    expect(run.notes.some((note) => /^in-flight cap 2 reached: \d+ of 8 requests waited for a free slot/.test(note))).toBe(true)
    // late requests were sent after their scheduled time
    expect(run.requests.every((request) => request.startMs >= run.scheduledMs![request.index]! - 1e-6)).toBe(true)
  })

  it('ends a duration on the real clock when the cap makes arrivals late', async () => {
    const engine = new PacedEngine()
    // 1000 req/s offered (~100 arrivals scheduled in 100 ms) but one slot and requests of >= 40 ms:
    // only a handful fit in the 100 ms; going by the schedule would keep sending for seconds.
    const run = await runLevel(
      engine,
      openPlan({
        arrival: {kind: 'rate', rate: 1000, seed: 3, maxInFlight: 1},
        stop: {kind: 'duration', durationMs: 100, maxRequests: 1000},
        makeRequest: (i) => ({promptTokens: [i], promptText: null, maxTokens: 20, ignoreEos: true}),
      }),
      {t0: performance.now(), signal: new AbortController().signal},
    )
    expect(run.stopReason).toBe('duration')
    expect(run.promptsUsed).toBeGreaterThanOrEqual(1)
    expect(run.promptsUsed).toBeLessThan(10)
    expect(engine.maxActive).toBe(1)
  })

  it('does not sleep until an arrival that falls after the duration', async () => {
    const engine = new PacedEngine()
    // rate 0.5 req/s, seed 42: the first gap is -ln(1 - 0.6011037519201636) / 0.5 = 1.838 s, past 100 ms.
    const started = performance.now()
    const run = await runLevel(engine, openPlan({arrival: {kind: 'rate', rate: 0.5, seed: 42, maxInFlight: 4}, stop: {kind: 'duration', durationMs: 100, maxRequests: 10}}), {
      t0: started,
      signal: new AbortController().signal,
    })
    expect(run.stopReason).toBe('duration')
    expect(run.promptsUsed).toBe(0)
    expect(run.requests).toEqual([])
    // returned at once, not after the 1838 ms first arrival
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it('stops issuing at the duration and lets the requests in flight finish', async () => {
    const engine = new PacedEngine()
    const run = await runLevel(engine, openPlan({arrival: {kind: 'concurrency', concurrency: 2}, stop: {kind: 'duration', durationMs: 60, maxRequests: 1000}}), {
      t0: performance.now(),
      signal: new AbortController().signal,
    })
    expect(run.load).toEqual({kind: 'concurrency', value: 2})
    expect(run.stopReason).toBe('duration')
    expect(run.status).toBe('complete')
    expect(run.scheduledMs).toBeNull()
    expect(engine.maxActive).toBe(2)
    // every issued request was recorded, finished, with all its tokens
    expect(run.requests).toHaveLength(run.promptsUsed)
    expect(run.requests.length).toBeGreaterThanOrEqual(2)
    expect(run.requests.every((request) => request.error === null && request.outputTokens === 5)).toBe(true)
  })

  it('caps a duration level at its maximum request count', async () => {
    const engine = new PacedEngine()
    const run = await runLevel(engine, openPlan({arrival: {kind: 'concurrency', concurrency: 3}, stop: {kind: 'duration', durationMs: 600_000, maxRequests: 7}}), {
      t0: performance.now(),
      signal: new AbortController().signal,
    })
    expect(run.stopReason).toBe('max-requests')
    expect(run.requests).toHaveLength(7)
    expect(engine.maxActive).toBe(3)
  })

  it('marks an interrupted level partial and keeps only finished requests', async () => {
    const engine = new PacedEngine()
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 40)
    // ~1 arrival per ms, each request >= 50 timer ticks: at 40 ms many are in flight and get dropped.
    const long = (i: number) => ({promptTokens: [i], promptText: null, maxTokens: 50, ignoreEos: true as const})
    const run = await runLevel(
      engine,
      openPlan({arrival: {kind: 'rate', rate: 1000, seed: 5, maxInFlight: 64}, stop: {kind: 'requests', requests: 1000}, makeRequest: long}),
      {
        t0: performance.now(),
        signal: controller.signal,
      },
    )
    expect(run.status).toBe('partial')
    expect(run.stopReason).toBe('interrupted')
    expect(run.promptsUsed).toBeGreaterThan(0)
    expect(run.requests.length).toBeLessThan(run.promptsUsed)
    expect(run.requests.every((request) => request.error === null)).toBe(true)
  })
})

describe('one level runner for every arrival', () => {
  it('runs a closed and a Poisson level through the same runLevel, recording both the same way', async () => {
    const engine = new PacedEngine()
    const levels = []
    for (const arrival of [
      {kind: 'concurrency', concurrency: 2},
      {kind: 'rate', rate: 500, seed: 4, maxInFlight: 2},
    ] as const) {
      const progress: LevelProgress[] = []
      const level = await runLevel(engine, openPlan({arrival, stop: {kind: 'requests', requests: 4}}), {
        t0: performance.now(),
        signal: new AbortController().signal,
        onProgress: (p) => progress.push(p),
      })
      expect(level.status).toBe('complete')
      expect(level.stopReason).toBe('requests')
      expect(level.requests.map((request) => request.index)).toEqual([0, 1, 2, 3])
      expect(level.requests.every((request) => request.error === null && request.outputTokens === 5 && request.chunkOffsetsMs.length === 5)).toBe(true)
      expect(progress.at(-1)).toMatchObject({phase: 'measure', issued: 4, done: 4, failed: 0, total: 4, inFlight: 0, outputTokens: 20})
      levels.push(level)
    }
    expect(levels.map((level) => level.load)).toEqual([
      {kind: 'concurrency', value: 2},
      {kind: 'rate', value: 500},
    ])
    // the same record shape and fields from either arrival; only a scheduled arrival keeps due times
    expect(Object.keys(levels[0]!).sort()).toEqual(Object.keys(levels[1]!).sort())
    expect(Object.keys(levels[0]!.requests[0]!).sort()).toEqual(Object.keys(levels[1]!.requests[0]!).sort())
    expect(levels[0]!.scheduledMs).toBeNull()
    expect(levels[1]!.scheduledMs).toHaveLength(4)
    // prompts 100..103 twice: each level starts at its own firstPromptIndex
    expect([...engine.prompts].sort((a, b) => a - b)).toEqual([100, 100, 101, 101, 102, 102, 103, 103])
  })

  it('leaves no listener on the signal and ends with a throw from onProgress once the requests in flight end', async () => {
    const signal = new AbortController().signal
    await runLevel(new PacedEngine(), openPlan({stop: {kind: 'requests', requests: 3}}), {t0: performance.now(), signal})
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)

    const engine = new ScriptedEngine()
    // The report as request 1 is sent (the second call) throws; a throw during a stream is that request's error.
    let calls = 0
    const failing = runLevel(engine, closedPlan({concurrency: 2, requests: 6}), {
      t0: performance.now(),
      signal,
      onProgress: () => {
        if (++calls === 2) throw new Error('progress broke')
      },
    })
    await expect(failing).rejects.toThrow('progress broke')
    expect(engine.active).toBe(0)
    expect(engine.prompts.length).toBeLessThan(6)
  })

  it('runClosedLevel is runLevel with closed arrivals and a request count', async () => {
    const engine = new ScriptedEngine()
    const level = await runClosedLevel(
      engine,
      {concurrency: 2, requests: 4, warmupRequests: 1, firstPromptIndex: 10, makeRequest: (i) => ({promptTokens: [i], promptText: null, maxTokens: 2, ignoreEos: true})},
      {t0: performance.now(), signal: new AbortController().signal},
    )
    expect(level.load).toEqual({kind: 'concurrency', value: 2})
    expect(level.stopReason).toBe('requests')
    expect(level.promptsUsed).toBe(5)
    expect(engine.prompts.map((p) => p[0])).toEqual([10, 11, 12, 13, 14])
  })

  it('is the only runner: outside the engines, only loadgen/request.ts streams, only loadgen/level.ts sends and asks the stop rule', () => {
    const src = path.resolve('src')
    const files = (readdirSync(src, {recursive: true}) as string[]).filter((file) => file.endsWith('.ts') && !file.startsWith(`engines${path.sep}`))
    const using = (pattern: RegExp) => files.filter((file) => pattern.test(readFileSync(path.join(src, file), 'utf8'))).sort()
    expect(using(/\.stream\(/)).toEqual([path.join('loadgen', 'request.ts')])
    expect(using(/(?<!function )\brunRequest\(/)).toEqual([path.join('loadgen', 'level.ts')])
    expect(using(/\.mayIssue\((?!\))/)).toEqual([path.join('loadgen', 'level.ts')])
  })
})
