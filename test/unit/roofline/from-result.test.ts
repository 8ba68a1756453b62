import {beforeAll, describe, expect, it} from 'vitest'

import {loadProfiles} from '../../../src/profiles/load.js'
import {type ProfileStore} from '../../../src/profiles/store.js'
import {readResultFile} from '../../../src/results/read.js'
import type {ResultFile} from '../../../src/results/schema.js'
import {hardwareFromProfile} from '../../../src/roofline/ceilings.js'
import {checkResultLevel, isCheckableLevel, operatingPointOfLevel, scaleResult, whatIfResultLevel} from '../../../src/roofline/from-result.js'

// A REAL capplan result (test/fixtures/peers/README.md): embedded engine, synthetic Qwen2.5-0.5B Q4_0, 32 in /
// 16 out, concurrency 1 and 2 on a loaded 2-core CPU (measured 1.2767 and 1.1253 output tok/s).
let store: ProfileStore
let result: ResultFile
beforeAll(async () => {
  store = await loadProfiles({})
  result = await readResultFile('test/fixtures/peers/capplan-embedded-int4.json')
})

describe('result levels against the roofline', () => {
  it('the operating point comes from the file: Q4_0 (4.5 bits), cpu profile, 1 device, its concurrency', () => {
    const [c1, c2] = result.levels
    if (c1 === undefined || c2 === undefined) throw new Error('fixture has two levels')
    expect(isCheckableLevel(c1)).toBe(true)
    const point = operatingPointOfLevel(store, result, c2, {bandwidthGBs: 10})
    expect(point.format.bitsPerWeight).toBe(4.5)
    expect(point.hardware.id).toBe('cpu')
    expect([point.tp, point.pp, point.batch]).toEqual([1, 1, 2])
    expect(point.measuredTokensPerSecond).toBeCloseTo(1.125_270, 6)
  })

  it('efficiency per level with a 10 GB/s CPU', () => {
    const [c1, c2] = result.levels
    if (c1 === undefined || c2 === undefined) throw new Error('fixture has two levels')
    // weights 0.49e9 x 4.5 / 8 = 275,625,000 B; KV 2 x 24 x 2 x 64 x 2 = 12,288 B/token at 32 + 16/2 = 40 tokens
    // c=1: 8e9 / (275,625,000 + 491,520) = 28.9733 tok/s; c=2: 2 x 8e9 / (275,625,000 + 983,040) = 57.8436
    const one = checkResultLevel(store, result, c1, {bandwidthGBs: 10})
    const two = checkResultLevel(store, result, c2, {bandwidthGBs: 10})
    expect(one.ceilingTokensPerSecond).toBeCloseTo(28.9733, 4)
    expect(two.ceilingTokensPerSecond).toBeCloseTo(57.8436, 4)
    expect(one.efficiency).toBeCloseTo(1.276_693 / 28.9733, 5) // 4.4%
    expect(two.efficiency).toBeCloseTo(1.125_270 / 57.8436, 5) // 1.9%
    expect(one.verdict).toBe('ok')
    // Without a bandwidth the CPU has no ceiling.
    expect(checkResultLevel(store, result, c1).verdict).toBe('unknown')
  })

  it('what-if on an H200: x 4800 / 10 GB/s (memory-bound on both), labeled estimate', () => {
    const [c1] = result.levels
    if (c1 === undefined) throw new Error('fixture has a level')
    const w = whatIfResultLevel(store, result, c1, hardwareFromProfile(store.get('gpu', 'h200')), {bandwidthGBs: 10})
    expect(w.ok).toBe(true)
    if (!w.ok) return
    expect(w.label).toBe('estimate')
    expect(w.estimatedTokensPerSecond).toBeCloseTo(1.276_693_055 * 480, 3) // 612.81
    const scaled = scaleResult(store, result, 'x.json', hardwareFromProfile(store.get('gpu', 'h200')), {bandwidthGBs: 10})
    expect(scaled.levels.map((l) => l.concurrency)).toEqual([1, 2])
    expect(scaled).toMatchObject({sourceGpu: 'cpu', sourceGpus: 1, format: 'Q4_0', resultId: result.id})
  })
})
