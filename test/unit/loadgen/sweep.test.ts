import {describe, expect, it} from 'vitest'

import {levelSummarySchema, type Distribution, type LevelSummary} from '../../../src/results/schema.js'
import {bestStep, nextSweepStep, runSweep, sloBreaches, SWEEP_DEFAULTS, sweepLadder, type SweepOptions} from '../../../src/loadgen/sweep.js'

/** A distribution whose p95 is `p95` (the other fields only need to be a valid shape). */
function dist(p95: number): Distribution {
  return {count: 10, mean: p95 / 2, stdev: 1, min: 1, p50: p95 / 2, p90: p95 * 0.9, p95, p99: p95, max: p95}
}

/** A scripted level summary: total tok/s and p95 TTFT / TPOT / E2E in ms. */
function summary(totalTokensPerS: number, p95: {ttft?: number; tpot?: number; e2e?: number} = {}, completed = 10): LevelSummary {
  const value: LevelSummary = {
    requests: {completed, failed: completed === 0 ? 10 : 0},
    durationS: 10,
    throughput: {outputTokensPerS: totalTokensPerS / 2, inputTokensPerS: totalTokensPerS / 2, totalTokensPerS, requestsPerS: 1},
    ttftMs: completed === 0 ? null : dist(p95.ttft ?? 100),
    tpotMs: completed === 0 ? null : dist(p95.tpot ?? 20),
    itlMsPerToken: null,
    itlMsPerChunk: null,
    e2eMs: completed === 0 ? null : dist(p95.e2e ?? 1000),
    perUserTokensPerS: null,
    goodput: null,
    errors: completed === 0 ? {http: 10} : {},
    tokenMismatches: 0,
  }
  return levelSummarySchema.parse(value)
}

const options: SweepOptions = {...SWEEP_DEFAULTS, maxConcurrency: 64}

/** Runs a sweep against scripted summaries by concurrency and returns what it measured. */
async function sweep(script: Record<number, LevelSummary | null>, sweepOptions: SweepOptions = options) {
  const asked: number[] = []
  const outcome = await runSweep(async (concurrency) => {
    asked.push(concurrency)
    const scripted = script[concurrency]
    if (scripted === undefined) throw new Error(`the sweep asked for concurrency ${concurrency}, not scripted`)
    return scripted
  }, sweepOptions)
  return {asked, outcome}
}

describe('sweep decisions on scripted level summaries', () => {
  it('doubles until total throughput grows by less than 5%', async () => {
    // gains: 1->2 (190-100)/100 = +90%, 2->4 (350-190)/190 = +84.2%, 4->8 (360-350)/350 = +2.86% < 5% -> stop
    const {asked, outcome} = await sweep({1: summary(100), 2: summary(190), 4: summary(350), 8: summary(360)})
    expect(asked).toEqual([1, 2, 4, 8])
    expect(outcome.stop).toBe('plateau')
    expect(outcome.message).toBe('total throughput 360 tok/s at concurrency 8 is +2.9% vs 350 tok/s at 4 (< +5.0%)')
    // 360 is still the highest throughput and no SLO was given
    expect(outcome.best?.concurrency).toBe(8)
    expect(outcome.steps.map((step) => step.concurrency)).toEqual([1, 2, 4, 8])
  })

  it('treats a throughput drop as a plateau and picks the earlier, faster level', async () => {
    const {asked, outcome} = await sweep({1: summary(100), 2: summary(180), 4: summary(170)})
    expect(asked).toEqual([1, 2, 4])
    expect(outcome.stop).toBe('plateau')
    expect(outcome.best?.concurrency).toBe(2)
  })

  it('uses the configured minimum gain (a gain equal to it goes on)', async () => {
    // 1->2: 90/100 = 0.9, not < 0.9 -> go on; 2->4: 160/190 = 0.842 < 0.9 -> stop
    const {asked, outcome} = await sweep({1: summary(100), 2: summary(190), 4: summary(350)}, {...options, minGain: 0.9})
    expect(asked).toEqual([1, 2, 4])
    expect(outcome.stop).toBe('plateau')
  })

  it('stops when the SLO breaks at p95 and answers with the last level that held', async () => {
    const slo = {ttftMs: 2000, tpotMs: 50}
    const {asked, outcome} = await sweep({1: summary(100, {ttft: 300}), 2: summary(190, {ttft: 900}), 4: summary(350, {ttft: 2500, tpot: 40})}, {...options, slo})
    expect(asked).toEqual([1, 2, 4])
    expect(outcome.stop).toBe('slo')
    expect(outcome.message).toBe('the SLO (ttft<=2000ms tpot<=50ms) breaks at concurrency 4: TTFT p95 2500ms > 2000ms')
    expect(outcome.best?.concurrency).toBe(2)
  })

  it('names every threshold a level breaks', () => {
    expect(sloBreaches(summary(1, {ttft: 2001, tpot: 60, e2e: 9000}), {ttftMs: 2000, tpotMs: 50, e2eMs: 10_000})).toEqual([
      'TTFT p95 2001ms > 2000ms',
      'TPOT p95 60.0ms > 50ms',
    ])
    // exactly at the threshold holds (meetsSlo uses > too)
    expect(sloBreaches(summary(1, {ttft: 2000}), {ttftMs: 2000})).toEqual([])
  })

  it('stops at the highest concurrency allowed', async () => {
    const {asked, outcome} = await sweep({1: summary(100), 2: summary(200), 4: summary(400)}, {...options, maxConcurrency: 4})
    expect(asked).toEqual([1, 2, 4])
    expect(outcome.stop).toBe('max-concurrency')
    expect(outcome.message).toBe('the next step (8) would pass the highest concurrency 4')
  })

  it('stops when every request of a level failed', async () => {
    const {asked, outcome} = await sweep({1: summary(0, {}, 0)})
    expect(asked).toEqual([1])
    expect(outcome.stop).toBe('failed')
    expect(outcome.best).toBeNull()
  })

  it('ends with what it has when a level is interrupted', async () => {
    const {asked, outcome} = await sweep({1: summary(100), 2: null})
    expect(asked).toEqual([1, 2])
    expect(outcome.stop).toBe('interrupted')
    expect(outcome.steps.map((step) => step.concurrency)).toEqual([1])
    expect(outcome.best?.concurrency).toBe(1)
  })

  it('starts at `start` and lists the ladder it may climb', () => {
    expect(nextSweepStep([], options)).toEqual({next: 1})
    expect(sweepLadder({start: 1, factor: 2, maxConcurrency: 64})).toEqual([1, 2, 4, 8, 16, 32, 64])
    // factor 1.5 from 1: max(1 + 1, round(1.5)) = 2, round(3) = 3, round(4.5) = 5, round(7.5) = 8
    expect(sweepLadder({start: 1, factor: 1.5, maxConcurrency: 8})).toEqual([1, 2, 3, 5, 8])
  })

  it('bestStep skips failed levels and levels that break the SLO', () => {
    const steps = [
      {concurrency: 1, summary: summary(100, {ttft: 100})},
      {concurrency: 2, summary: summary(300, {ttft: 5000})},
      {concurrency: 4, summary: summary(0, {}, 0)},
    ]
    expect(bestStep(steps, {ttftMs: 1000})?.concurrency).toBe(1)
    expect(bestStep(steps)?.concurrency).toBe(2)
  })
})
