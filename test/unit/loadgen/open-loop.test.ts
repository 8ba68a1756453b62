import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import type {Engine, GenRequest, StreamEvent} from '../../../src/engines/types.js'
import {uniformRandom} from '../../../src/lib/random.js'
import {parseRates, poissonArrivalsMs, poissonScheduleMs, runLoadLevel, type LoadLevelPlan} from '../../../src/loadgen/open-loop.js'

describe('parseRates', () => {
  it('reads comma-separated positive rates in order', () => {
    expect(parseRates('0.5,1,2', '--rate')).toEqual([0.5, 1, 2])
    expect(parseRates(' 4 , .25 ', '--rate')).toEqual([4, 0.25])
  })

  it('names the flag and the bad item', () => {
    expect(() => parseRates('1,fast', '--rate')).toThrow('--rate: "fast" is not a positive number of requests per second.')
    expect(() => parseRates('0', '--rate')).toThrow(/"0" is not a positive number/)
    expect(() => parseRates('1,,2', '--rate')).toThrow(/"" is not a positive number/)
    expect(() => parseRates('', '--rate')).toThrow('--rate is empty.')
  })
})

describe('Poisson schedule', () => {
  it('draws mulberry32 values that match an independent 32-bit computation', () => {
    // Computed by hand-porting mulberry32 to Python with explicit & 0xffffffff arithmetic, seed 42.
    const random = uniformRandom(42)
    expect(random()).toBe(0.6011037519201636)
    expect(random()).toBe(0.44829055899754167)
    expect(random()).toBe(0.8524657934904099)
    expect(random()).toBe(0.6697340414393693)
  })

  it('turns them into exponential gaps -ln(1 - u) / rate, cumulated', () => {
    // rate 2 req/s, seed 42:
    //   gap 1 = -ln(1 - 0.6011037519201636) / 2 s = 0.459527 s -> 459.527 ms
    //   gap 2 = -ln(1 - 0.44829055899754167) / 2 = 297.367 ms -> arrival 756.894 ms
    //   gap 3 = -ln(1 - 0.8524657934904099) / 2 = 956.848 ms -> arrival 1713.741 ms
    //   gap 4 = -ln(1 - 0.6697340414393693) / 2 = 553.929 ms -> arrival 2267.670 ms
    const schedule = poissonScheduleMs(2, 42, 4)
    expect(schedule[0]).toBeCloseTo(459.5269628905001, 9)
    expect(schedule[1]).toBeCloseTo(756.89383603277, 9)
    expect(schedule[2]).toBeCloseTo(1713.7414468074185, 9)
    expect(schedule[3]).toBeCloseTo(2267.669953847742, 9)
    // same seed -> same schedule; another seed -> another
    expect(poissonScheduleMs(2, 42, 4)).toEqual(schedule)
    expect(poissonScheduleMs(2, 43, 1)[0]).not.toBe(schedule[0])
    // doubling the rate halves every gap (same u values)
    expect(poissonScheduleMs(4, 42, 4).map((at) => at * 2)).toEqual(schedule.map((at) => expect.closeTo(at, 9)))
  })

  it('averages 1 / rate over many arrivals (the law of large numbers, deterministic for the seed)', () => {
    const arrivals = poissonScheduleMs(4, 7, 4000)
    // mean gap = last arrival / count; 1/4 s = 250 ms expected, within 5% at n = 4000 (s.e. 250/sqrt(4000) = 4 ms)
    expect(arrivals.at(-1)! / 4000).toBeGreaterThan(237.5)
    expect(arrivals.at(-1)! / 4000).toBeLessThan(262.5)
  })

  it('is non-decreasing, finite and scales exactly with 1 / rate for any seed', () => {
    fc.assert(
      fc.property(fc.integer({min: 0, max: 2 ** 32 - 1}), fc.double({min: 0.01, max: 1000, noNaN: true}), (seed, rate) => {
        const base = poissonScheduleMs(1, seed, 20)
        const scaled = poissonScheduleMs(rate, seed, 20)
        for (let i = 0; i < 20; i++) {
          expect(Number.isFinite(scaled[i]!)).toBe(true)
          if (i > 0) expect(scaled[i]!).toBeGreaterThanOrEqual(scaled[i - 1]!)
          expect(scaled[i]! * rate).toBeCloseTo(base[i]!, 6)
        }
      }),
      {numRuns: 100},
    )
  })

  it('refuses a rate that is not positive', () => {
    expect(() => poissonArrivalsMs(0, 1).next()).toThrow(/rate must be a positive number/)
  })
})

/**
 * A scripted engine: `maxTokens` one-token events, each after a 2 ms timer. It tests scheduling (when
 * requests are sent, how many run at once), not inference, so a fake is right here.
 */
class ScriptedEngine implements Engine {
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

const plan = (overrides: Partial<LoadLevelPlan>): LoadLevelPlan => ({
  arrival: {kind: 'rate', rate: 200, seed: 1, maxInFlight: 64},
  stop: {kind: 'requests', requests: 6},
  firstPromptIndex: 100,
  makeRequest: (promptIndex) => ({promptTokens: [promptIndex], promptText: null, maxTokens: 5, ignoreEos: true}),
  ...overrides,
})

describe('runLoadLevel, open loop', () => {
  it('sends every request at its scheduled time and records it like the closed loop', async () => {
    const engine = new ScriptedEngine()
    const t0 = performance.now()
    const run = await runLoadLevel(engine, plan({}), {t0, signal: new AbortController().signal})
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
    const engine = new ScriptedEngine()
    // 1000 req/s (1 ms mean gap) against requests of 20 timer ticks: a closed loop of 1 would never overlap.
    await runLoadLevel(engine, plan({arrival: {kind: 'rate', rate: 1000, seed: 3, maxInFlight: 64}, makeRequest: (i) => ({promptTokens: [i], promptText: null, maxTokens: 20, ignoreEos: true})}), {
      t0: performance.now(),
      signal: new AbortController().signal,
    })
    expect(engine.maxActive).toBeGreaterThan(1)
  })

  it('holds the in-flight cap and says so in the notes', async () => {
    const engine = new ScriptedEngine()
    const run = await runLoadLevel(
      engine,
      plan({
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
    const engine = new ScriptedEngine()
    // 1000 req/s offered (~100 arrivals scheduled in 100 ms) but one slot and requests of >= 40 ms:
    // only a handful fit in the 100 ms; going by the schedule would keep sending for seconds.
    const run = await runLoadLevel(
      engine,
      plan({
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
    const engine = new ScriptedEngine()
    // rate 0.5 req/s, seed 42: the first gap is -ln(1 - 0.6011037519201636) / 0.5 = 1.838 s, past 100 ms.
    const started = performance.now()
    const run = await runLoadLevel(engine, plan({arrival: {kind: 'rate', rate: 0.5, seed: 42, maxInFlight: 4}, stop: {kind: 'duration', durationMs: 100, maxRequests: 10}}), {
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
    const engine = new ScriptedEngine()
    const run = await runLoadLevel(engine, plan({arrival: {kind: 'concurrency', concurrency: 2}, stop: {kind: 'duration', durationMs: 60, maxRequests: 1000}}), {
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
    const engine = new ScriptedEngine()
    const run = await runLoadLevel(engine, plan({arrival: {kind: 'concurrency', concurrency: 3}, stop: {kind: 'duration', durationMs: 600_000, maxRequests: 7}}), {
      t0: performance.now(),
      signal: new AbortController().signal,
    })
    expect(run.stopReason).toBe('max-requests')
    expect(run.requests).toHaveLength(7)
    expect(engine.maxActive).toBe(3)
  })

  it('marks an interrupted level partial and keeps only finished requests', async () => {
    const engine = new ScriptedEngine()
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 40)
    // ~1 arrival per ms, each request >= 50 timer ticks: at 40 ms many are in flight and get dropped.
    const long = (i: number) => ({promptTokens: [i], promptText: null, maxTokens: 50, ignoreEos: true as const})
    const run = await runLoadLevel(engine, plan({arrival: {kind: 'rate', rate: 1000, seed: 5, maxInFlight: 64}, stop: {kind: 'requests', requests: 1000}, makeRequest: long}), {
      t0: performance.now(),
      signal: controller.signal,
    })
    expect(run.status).toBe('partial')
    expect(run.stopReason).toBe('interrupted')
    expect(run.promptsUsed).toBeGreaterThan(0)
    expect(run.requests.length).toBeLessThan(run.promptsUsed)
    expect(run.requests.every((request) => request.error === null)).toBe(true)
  })
})
