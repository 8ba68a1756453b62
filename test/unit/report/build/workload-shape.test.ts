import {describe, expect, it} from 'vitest'

import {hitRateText, measuredHitRate, shapeDifference, shapeText} from '../../../../src/report/build/workload-shape.js'
import type {LevelRecord, ResultFile} from '../../../../src/results/schema.js'
import type {WorkloadShape} from '../../../../src/results/workload-shape.js'

const shape: WorkloadShape = {
  promptCache: 'on',
  seed: 1,
  prefix: {tokens: 384, groups: 2},
  sessions: null,
  input: {kind: 'fixed', tokens: 512},
  output: {kind: 'uniform', min: 16, max: 64},
  arrivals: {process: 'gamma', burstiness: 0.5, rampMs: 30_000},
  trace: null,
}
const workload = (s?: WorkloadShape) =>
  ({
    profile: null,
    inputTokens: 512,
    outputTokens: 40,
    promptSource: 'synthetic-token-ids',
    dataset: null,
    seed: 1,
    ignoreEos: true,
    ...(s === undefined ? {} : {shape: s}),
  }) as ResultFile['workload']
const level = (cache: LevelRecord['cache']) => ({cache}) as LevelRecord

describe('the workload shape in report and compare', () => {
  it('one line for the shape; the control without one', () => {
    expect(shapeText(shape)).toBe(
      'Shape: shared prefix 384 tokens x 2 group(s), input fixed 512, output uniform 16..64, gamma arrivals (burstiness 0.5), ramp 30.0 s, prompt cache on, seed 1',
    )
    expect(shapeText(undefined)).toBe('Shape: control (every prompt unique, fixed lengths, prompt cache off)')
  })

  it('the hit rate over levels is prompt-token weighted: (0.75 x 1000 + 0.25 x 3000) / 4000 = 0.375', () => {
    const levels = [
      level({intendedHitRate: 0.75, measuredHitRate: 0.75, cachedTokens: 750, promptTokens: 1000, source: 'server-usage'}),
      level({intendedHitRate: 0.75, measuredHitRate: 0.25, cachedTokens: 750, promptTokens: 3000, source: 'server-usage'}),
    ]
    expect(measuredHitRate(levels)).toEqual({measured: 0.375, intended: 0.75, levels: 2})
    expect(hitRateText(levels)).toBe('Prompt cache: measured hit rate 37.5%, intended 75.0% (2 level(s), server-usage)')
    expect(hitRateText([level(undefined)])).toBeNull()
    expect(measuredHitRate([level({intendedHitRate: 0.5, measuredHitRate: null, cachedTokens: 0, promptTokens: 10, source: 'unknown'})])?.measured).toBeNull()
  })

  it('compare names a differing shape (the cache switch too), not a differing seed', () => {
    expect(shapeDifference(workload(shape), workload({...shape, seed: 9}))).toBeNull()
    expect(shapeDifference(workload(shape), workload({...shape, promptCache: 'off'}))).toContain('prompt cache off vs')
    expect(shapeDifference(workload(), workload(shape))).toMatch(/^shape shared prefix 384 tokens .* vs control/)
  })
})
