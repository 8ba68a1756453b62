import {beforeAll, describe, expect, it} from 'vitest'

import {comparisonSet, qualityGap, quantLossFor, sizeClassOf} from '../../../src/cost/comparison.js'
import {planInputFor} from '../../../src/cost/plan-input.js'
import {planCost} from '../../../src/cost/plan.js'
import {monthsBetween, stalePriceWarning} from '../../../src/cost/pricing.js'
import {splitCost} from '../../../src/cost/io-split.js'
import {shapeProfile} from '../../../src/cost/traffic.js'
import {loadProfiles} from '../../../src/profiles/load.js'
import type {ProfileStore} from '../../../src/profiles/store.js'

let store: ProfileStore
beforeAll(async () => {
  store = await loadProfiles()
})

describe('comparisonSet: which APIs, in which group', () => {
  it('llama-3.1-70b: its hosted twins (servesModel) are "same-model", the closed APIs "closed", no retired API', () => {
    const set = comparisonSet(store, {model: 'llama-3.1-70b'})
    const twins = store.list('api').filter((api) => api.servesModel === 'llama-3.1-70b' && api.retired === undefined)
    expect(twins.length).toBeGreaterThanOrEqual(3)
    expect(set.apis.filter((api) => api.group === 'same-model').map((api) => api.id)).toEqual(twins.map((api) => api.id))
    const closed = store.list('api').filter((api) => !api.openWeights && api.retired === undefined)
    expect(set.apis.filter((api) => api.group === 'closed').map((api) => api.id)).toEqual(closed.map((api) => api.id))
    expect(set.apis.some((api) => api.retired)).toBe(false)
    expect(set.twinModel).toBe('llama-3.1-70b')
  })

  it('qwen2.5-0.5b has no provider: the nearest served model of its architecture stands in, and the note says so', () => {
    const set = comparisonSet(store, {model: 'qwen2.5-0.5b'})
    expect(set.twinModel).toBe('qwen2.5-7b')
    expect(set.apis.filter((api) => api.group === 'nearest-model').every((api) => api.servesModel === 'qwen2.5-7b')).toBe(true)
    expect(set.twinNote).toMatch(/no provider serves qwen2\.5-0\.5b; the nearest served model is qwen2\.5-7b \(same architecture, 16x the parameters\)/)
  })

  it('the quality gap uses one harness for both scores: qwen2.5-72b vs GPT-4o on GPQA-D is 49.0 vs 49.9 (deepseek-v3-report)', () => {
    const set = comparisonSet(store, {model: 'qwen2.5-72b', benchmark: 'gpqa-diamond'})
    const gpt4o = set.apis.find((api) => api.id === 'gpt-4o')!
    expect(gpt4o.qualityGap).toMatchObject({harness: 'deepseek-v3-report', selfScore: 49, apiScore: 49.9, text: 'GPQA-D 49.0 vs 49.9'})
    expect(gpt4o.qualityGap!.difference).toBeCloseTo(0.9, 12)
    // Claude Opus 4.6's GPQA-D is from the kimi-k2 README, where qwen2.5-72b was not scored: no gap
    expect(set.apis.find((api) => api.id === 'claude-opus-4.6')!.qualityGap).toBeNull()
  })

  it('qualityGap never mixes harnesses', () => {
    const mine = [{benchmark: 'mmlu', value: 80, harness: 'a', source: 's', date: '2025'}]
    expect(qualityGap(mine, [{benchmark: 'mmlu', value: 90, harness: 'b', source: 's', date: '2025'}], 'mmlu')).toBeNull()
    expect(qualityGap(mine, [{benchmark: 'mmlu', value: 90, harness: 'a', source: 't', date: '2025'}], 'mmlu')!.difference).toBe(10)
  })

  it('--compare quality>=60:gpqa-diamond keeps the twins and the APIs scoring >= 60; same-model only the twins; --api wins, retired too', () => {
    const quality = comparisonSet(store, {model: 'qwen2.5-72b', compare: {kind: 'quality', minScore: 60, benchmark: 'gpqa-diamond'}})
    const ids = quality.apis.map((api) => api.id)
    expect(ids).toContain('claude-opus-4.6') // 74.9
    expect(ids).toContain('o3') // 83.3
    expect(ids).not.toContain('gpt-4o') // 49.9
    expect(quality.apis.filter((api) => api.group === 'same-model').length).toBeGreaterThanOrEqual(3)
    const same = comparisonSet(store, {model: 'qwen2.5-72b', compare: {kind: 'same-model'}})
    expect(same.apis.every((api) => api.group === 'same-model')).toBe(true)
    const given = comparisonSet(store, {model: 'qwen2.5-72b', apis: ['claude-3.5-sonnet@seed-000']})
    expect(given.apis.map((api) => [api.id, api.retired])).toEqual([['claude-3.5-sonnet', true]])
    expect(given.notes.join(' ')).toMatch(/claude-3\.5-sonnet is retired/)
  })
})

describe('quantization loss', () => {
  it('by format and size class: AWQ int4 on a 72B model is the 15b-100b row (1.11%); "AWQ" finds the AWQ-INT4 table', () => {
    expect(sizeClassOf(72.7)).toBe('15b-100b')
    const {loss} = quantLossFor(store, 'AWQ', 'int4', 72.7)
    expect(loss).toMatchObject({format: 'AWQ-INT4', sizeClass: '15b-100b', lossPct: 1.11, note: null})
  })

  it("another size class than the model's is used only with a note saying so (Q4_0 on a 0.5B model)", () => {
    const {loss} = quantLossFor(store, 'Q4_0', 'int4', 0.49)
    expect(loss!.sizeClass).toBe('3b-15b')
    expect(loss!.note).toMatch(/this model is under-3b/)
  })

  it('fp16 has no loss; an unknown format says so', () => {
    expect(quantLossFor(store, 'F16', 'fp16', 7).loss).toBeNull()
    expect(quantLossFor(store, 'IQ2_XS', 'int4', 7).note).toMatch(/no quantization-loss figure for IQ2_XS/)
  })
})

describe('prices: cache hits, input and output apart, stale dates', () => {
  it('--cache-hit 0.4 on GPT-4o ($2.50 in, $1.25 cached, $10 out): input 0.6 x 2.5 + 0.4 x 1.25 = $2.00, blended at 1:1 $6.00', () => {
    const plan = planCost(planInputFor({totalTokensPerSecond: 25, usdPerGpuHour: 2.5, apis: ['gpt-4o'], cacheHitRate: 0.4}, store))
    expect(plan.apis[0]!.effectiveInputPerMTok).toBeCloseTo(2, 12)
    expect(plan.apis[0]!.blendedPerMTok).toBeCloseTo(6, 12)
  })

  it('input and output apart: a replica of $1,460/month spending 20% of its time in prefill, 100M in and 50M out a month', () => {
    const split = splitCost(1460, 100e6, 50e6, 0.2)!
    expect(split.inputPerMTok).toBeCloseTo((1460 * 0.2) / 100, 12) // $2.92
    expect(split.outputPerMTok).toBeCloseTo((1460 * 0.8) / 50, 12) // $23.36
    // the parts add up to the replica's cost
    expect(split.inputPerMTok * 100 + split.outputPerMTok * 50).toBeCloseTo(1460, 9)
  })

  it('a price older than 6 months warns, naming the profile and its date; 6 months exactly does not', () => {
    expect(monthsBetween('2026-03-13', '2026-12-03')).toBe(8)
    expect(stalePriceWarning('o3', '2026-06', '2026-12-03')).toBeNull()
    expect(stalePriceWarning('o3', '2026-05', '2026-12-03')).toMatch(/the price of o3 is dated 2026-05 \(7 months before 2026-12-03\)/)
    const input = planInputFor({totalTokensPerSecond: 25, gpu: 'h100-sxm', apis: ['gpt-4o@seed-000'], today: '2026-12-03'}, store)
    expect(input.warnings!.some((w) => w.startsWith('the price of gpt-4o@seed-000 is dated'))).toBe(true)
  })
})

describe('planInputFor: the rules between the new choices (each names the flag)', () => {
  const base = {totalTokensPerSecond: 25, gpu: 'h100-sxm'}
  it('refuses what needs another flag', () => {
    expect(() => planInputFor({...base, headroom: 0.2}, store)).toThrow('--headroom needs --traffic.')
    expect(() => planInputFor({...base, coloUsdPerKwMonth: 100}, store)).toThrow('--colo-kw-month needs --pricing owned.')
    expect(() => planInputFor({...base, traffic: shapeProfile('flat', null), utilization: 0.5}, store)).toThrow('--utilization and --traffic cannot be used together.')
    expect(() => planInputFor({...base, qualityOn: 'mmlu-prox'}, store)).toThrow(/--quality-on: no profile has a score on "mmlu-prox"/)
    expect(() => planInputFor({totalTokensPerSecond: 25, gpu: 'l40s', pricing: 'owned'}, store)).toThrow(/"l40s" has no purchase price/)
  })

  it('--pricing owned uses the profile purchase and power and the stated defaults (PUE 1.2, $0.0806/kWh, colo $135)', () => {
    const input = planInputFor({...base, pricing: 'owned'}, store)
    expect(input.ownedHardware!.input).toMatchObject({
      usdPerGpu: 30000,
      usefulLifeYears: 4,
      idleWatts: 80,
      busyWatts: 700,
      pue: 1.2,
      usdPerKwh: 0.0806,
      coloUsdPerKwMonth: 135,
    })
    expect(input.ownedHardware!.rents.map((rent) => rent.tier)).toEqual(['on-demand', 'spot', 'reserved'])
    expect(input.energy).toBeUndefined() // the power is inside the owned hour
  })
})
