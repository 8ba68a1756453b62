import {beforeAll, describe, expect, it} from 'vitest'

import {OWNED_DEFAULTS, ownedGpuHour} from '../../../src/cost/ownership.js'
import {planTraffic, shapeProfile} from '../../../src/cost/traffic.js'
import {predict, type EfficiencyPrior} from '../../../src/planner/calibration.js'
import {engineFormat, gpuPrice, lossFormatName, priorKey, searchDeployments, sloBatch, type SearchInput} from '../../../src/planner/search.js'
import {loadProfiles} from '../../../src/profiles/load.js'
import type {ProfileStore} from '../../../src/profiles/store.js'
import {hardwareFromProfile} from '../../../src/roofline/ceilings.js'
import {servingCeiling, type ServingCeiling} from '../../../src/roofline/serving.js'

let store: ProfileStore
beforeAll(async () => {
  store = await loadProfiles()
})

// A hand-made prior: twice the roofline's time everywhere, no fixed cost; the range x0.5-x1.5 of the estimate
const prior: EfficiencyPrior = {
  kMemory: 2,
  kCompute: 2,
  kPrefill: 2,
  overheadS: 0,
  residualLow: -Math.log(1.5),
  residualHigh: Math.log(2),
  coverage: 0.8,
  n: 3,
  group: 'test',
  basis: 'test',
}

function input(overrides: Partial<SearchInput> = {}): SearchInput {
  return {
    model: store.get('model', 'llama-3.1-8b'),
    workload: {id: 'chat', inputTokens: 512, outputTokens: 256},
    slo: {ttftMs: 1000, tpotMs: 40},
    sloSource: 'test',
    gpus: [store.get('gpu', 'h100-sxm')],
    maxGpus: 1,
    quants: ['fp16'],
    engines: ['vllm'],
    pricing: ['on-demand'],
    tokensPerMonth: 3e9,
    hoursPerMonth: 730,
    traffic: shapeProfile('flat', null),
    priors: {[priorKey('vllm', 'nvidia')]: prior, [priorKey('llamacpp', 'nvidia')]: prior},
    priorUpdates: [],
    measured: [],
    scaled: [],
    ...overrides,
  }
}

describe('sloBatch: the largest batch whose estimated latency meets the SLO', () => {
  // a made-up ceiling: TPOT 1 ms x B, TTFT 100 ms at any batch
  const ceilingAt = (batch: number): ServingCeiling => ({
    batch,
    contextTokens: 0,
    stepTimeS: 0.001 * batch,
    prefillTimeS: 0.1,
    prefillInCycleS: 0,
    cycleTimeS: 0.001 * batch * 100,
    outputTokensPerSecond: batch * 1000,
    tpotS: 0.001 * batch,
    ttftS: 0.1,
    bound: 'memory',
  })
  it('a line of k = 2 doubles the times: TPOT 2 ms x B <= 40 ms -> B = 20', () => {
    const found = sloBatch(ceilingAt, prior, {tpotMs: 40}, 100, 1000)!
    expect(found.batch).toBe(20)
    expect(found.tpotMs).toBeCloseTo(40, 9)
    expect(found.ttftMs).toBeCloseTo(200, 9)
  })
  it('capped by the sequences that fit (maxBatch 10 -> 10)', () => expect(sloBatch(ceilingAt, prior, {tpotMs: 40}, 100, 10)!.batch).toBe(10))
  it('TTFT 200 ms estimated against a 150 ms SLO: no batch at all', () => expect(sloBatch(ceilingAt, prior, {ttftMs: 150}, 100, 1000)).toBeNull())
  it('E2E = TTFT + OSL x TPOT: 200 + 100 x 2B <= 2200 ms -> B = 10', () => expect(sloBatch(ceilingAt, prior, {e2eMs: 2200}, 100, 1000)!.batch).toBe(10))
  it('a fixed 10 ms per step: TPOT 2 ms x B + 10 ms <= 40 ms -> B = 15; TTFT 200 + 10 ms', () => {
    const found = sloBatch(ceilingAt, {...prior, overheadS: 0.01}, {tpotMs: 40}, 100, 1000)!
    expect(found.batch).toBe(15)
    expect(found.ttftMs).toBeCloseTo(210, 9)
  })
})

describe('formats, losses and prices of a candidate', () => {
  it('vLLM loads the profile checkpoint, llama.cpp the GGUF; their quant-loss names', () => {
    const m = store.get('model', 'llama-3.1-70b')
    expect(engineFormat(m, 'int4', 'vllm').bitsPerWeight).toBe(4.25)
    expect(engineFormat(m, 'int4', 'llamacpp').label).toBe('Q4_K_M')
    expect(lossFormatName(m, 'int4', 'vllm')).toBe('AWQ-INT4')
    expect(lossFormatName(m, 'int8', 'vllm')).toBe('INT8-W8A8')
    expect(lossFormatName(m, 'int8', 'llamacpp')).toBe('Q8_0')
    expect(lossFormatName(m, 'fp16', 'sglang')).toBeNull()
  })

  it('owned H200 (defaults): $35,000 / (4 x 8,760 h) + 0.7 kW x PUE 1.2 x $0.0806 + 0.7 kW x $135 / 730 h = $1.1960/GPU-hour', () => {
    const price = gpuPrice(store.get('gpu', 'h200'), 'owned', 730)
    expect(OWNED_DEFAULTS.pue.value).toBe(1.2)
    expect('usdPerHour' in price && price.usdPerHour).toBeCloseTo(35000 / 4 / 8760 + 0.7 * 1.2 * 0.0806 + (0.7 * 135) / 730, 9)
    // plan's owned flags replace the defaults: $0.20/kWh, no colocation
    const flagged = gpuPrice(store.get('gpu', 'h200'), 'owned', 730, {usdPerKwh: 0.2, coloUsdPerKwMonth: 0})
    expect('usdPerHour' in flagged && flagged.usdPerHour).toBeCloseTo(35000 / 4 / 8760 + 0.7 * 1.2 * 0.2, 9)
    const h200 = store.get('gpu', 'h200')
    const input = {
      usdPerGpu: 35000,
      usefulLifeYears: 4,
      residualFraction: 0,
      idleWatts: h200.power!.idleWatts,
      busyWatts: 700,
      powerSource: '',
      pue: 1.2,
      usdPerKwh: 0.0806,
      coloUsdPerKwMonth: 135,
      opsOverhead: 0,
      hoursPerMonth: 730,
      purchaseSource: '',
    }
    expect('usdPerHour' in price && price.usdPerHour).toBeCloseTo(ownedGpuHour(input, 1).usdPerHour, 12)
  })

  it('a tier the profile lacks is a reason, not a price', () => {
    const price = gpuPrice(store.get('gpu', 'cpu'), 'spot', 730)
    expect('reason' in price && price.reason).toBe('cpu has no spot price')
  })
})

describe('searchDeployments', () => {
  it('ESTIMATED: the ceiling at the SLO batch through the prior, its range, fleet and cost recomputed by hand', () => {
    const result = searchDeployments(store, input())
    expect(result.ranked).toHaveLength(1)
    const c = result.ranked[0]!
    expect(c.source).toBe('ESTIMATED')
    // recompute: the same ceiling and SLO batch from the roofline; k = 2 halves it, the range x0.5-x1.5
    const h100 = store.get('gpu', 'h100-sxm')
    const serving = {
      model: store.get('model', 'llama-3.1-8b'),
      format: engineFormat(store.get('model', 'llama-3.1-8b'), 'fp16', 'vllm'),
      kvCache: 'fp16' as const,
      hardware: hardwareFromProfile(h100),
      tp: 1,
      pp: 1,
    }
    const found = sloBatch((b) => servingCeiling(serving, b, 512, 256), prior, {ttftMs: 1000, tpotMs: 40}, 256, 8192)!
    expect(c.throughput.batch).toBe(found.batch)
    expect(c.throughput.outputTokensPerSecond).toBeCloseTo(found.ceiling.outputTokensPerSecond * 0.5, 9)
    expect(c.throughput.outputTokensPerSecond).toBeCloseTo(predict(prior, found.ceiling).outputTokensPerSecond, 9)
    expect(c.throughput.low).toBeCloseTo(found.ceiling.outputTokensPerSecond * 0.25, 9)
    expect(c.throughput.high).toBeCloseTo(found.ceiling.outputTokensPerSecond * 0.75, 9)
    expect(c.throughput.tpotMs).toBeCloseTo(found.ceiling.tpotS * 2 * 1000, 9)
    // flat traffic: replicas = ceil(tokens per hour / (total tok/s x 3600)); cost = replicas x $/h x 730
    const total = (c.throughput.outputTokensPerSecond * 768) / 256
    const replicas = Math.ceil(3e9 / 730 / (total * 3600))
    expect(c.replicas.peak).toBe(replicas)
    expect(c.monthlyCost).toBeCloseTo(replicas * h100.prices['on-demand']!.usdPerHour * 730, 6)
    expect(c.monthlyCostLow).toBeLessThanOrEqual(c.monthlyCost)
    expect(c.monthlyCostHigh).toBeGreaterThanOrEqual(c.monthlyCost)
    expect(c.perMTok.blended).toBeCloseTo((c.monthlyCost * 1e6) / 3e9, 9)
  })

  it('MEASURED: a result file of that deployment replaces the estimate and sets the cost', () => {
    const measured = {
      file: 'r.json',
      resultId: 'r',
      model: 'llama-3.1-8b',
      quant: 'fp16' as const,
      engine: 'vllm' as const,
      gpu: 'h100-sxm',
      gpus: 1,
      tp: 1,
      pp: 1,
      outputTokensPerSecond: 1000,
      tpotMs: 30,
      ttftMs: 200,
      efficiency: 0.6,
      calibration: null,
      basis: 'MEASURED: test',
    }
    const c = searchDeployments(store, input({measured: [measured]})).ranked[0]!
    expect(c.source).toBe('MEASURED')
    expect(c.throughput.outputTokensPerSecond).toBe(1000)
    expect([c.throughput.low, c.throughput.high]).toEqual([1000, 1000])
    // 1000 output tok/s = 3000 total at 512:256; 3e9 / 730 h = 4.11M tokens/h over 10.8M per replica-hour: 1 replica
    expect(c.replicas.peak).toBe(1)
    expect(c.monthlyCost).toBeCloseTo(store.get('gpu', 'h100-sxm').prices['on-demand']!.usdPerHour * 730, 6)
  })

  it('MEASURED ranks by the measurement: a slow measured H100 loses to the estimated H200', () => {
    const slow = {
      file: 'r.json',
      resultId: 'r',
      model: 'llama-3.1-8b',
      quant: 'fp16' as const,
      engine: 'vllm' as const,
      gpu: 'h100-sxm',
      gpus: 1,
      tp: 1,
      pp: 1,
      outputTokensPerSecond: 50,
      tpotMs: 30,
      ttftMs: 200,
      efficiency: 0.05,
      calibration: null,
      basis: 'MEASURED: test',
    }
    const result = searchDeployments(store, input({gpus: [store.get('gpu', 'h100-sxm'), store.get('gpu', 'h200')], measured: [slow]}))
    const h100 = result.ranked.find((c) => c.gpu === 'h100-sxm')!
    expect(h100.source).toBe('MEASURED')
    expect(result.ranked[0]!.gpu).toBe('h200')
    expect(h100.rank).toBeGreaterThan(1)
    const plan = planTraffic(shapeProfile('flat', null), 3e9, {
      replicaTokensPerSecond: 150,
      replicaUsdPerHour: store.get('gpu', 'h100-sxm').prices['on-demand']!.usdPerHour,
      hoursPerMonth: 730,
    })
    expect(h100.monthlyCost).toBeCloseTo(plan.fixed.monthlyCost, 6)
  })

  it('SCALED: a measurement scaled from another GPU (same count) is used when there is no MEASURED one', () => {
    const scaled = {
      file: 'r.json',
      resultId: 'r',
      model: 'llama-3.1-8b',
      quant: 'fp16' as const,
      engine: 'vllm' as const,
      fromGpu: 'h200',
      gpu: 'h100-sxm',
      gpus: 1,
      tp: 1,
      pp: 1,
      outputTokensPerSecond: 700,
      basis: 'SCALED: test',
    }
    const c = searchDeployments(store, input({scaled: [scaled]})).ranked[0]!
    expect(c.source).toBe('SCALED')
    expect(c.throughput.outputTokensPerSecond).toBe(700)
  })

  it('prunes with reasons: an invalid TP, weights that do not fit, a beaten estimate', () => {
    const result = searchDeployments(
      store,
      input({model: store.get('model', 'llama-3.1-70b'), gpus: [store.get('gpu', 'l4'), store.get('gpu', 'h100-sxm')], maxGpus: 3, pricing: ['on-demand', 'spot']}),
    )
    const reasons = new Set(result.pruned.map((p) => p.reason))
    expect(reasons).toContain('invalid-tp') // TP 3 does not divide 64 heads
    expect(result.pruned.find((p) => p.reason === 'invalid-tp')!.detail).toContain('TP 3 does not divide 64 attention heads')
    expect(result.pruned.find((p) => p.reason === 'does-not-fit' && p.gpu === 'l4' && p.gpus === 1)!.detail).toMatch(/141\.2 GB of .* weights > 1 x 24 GB/)
    const leader = result.ranked[0]!
    for (const p of result.pruned.filter((x) => x.reason === 'beaten')) expect(p.detail).toContain(`the leader at its worst`)
    expect(result.ranked.every((c) => c.source !== 'ESTIMATED' || c === leader || c.monthlyCostLow <= leader.monthlyCostHigh)).toBe(true)
  })

  it('a tier the GPU profile has no price for is pruned as no-price (L4 has no spot price)', () => {
    const result = searchDeployments(store, input({gpus: [store.get('gpu', 'l4')], pricing: ['spot', 'on-demand'], slo: {tpotMs: 500}}))
    expect(result.pruned.filter((p) => p.reason === 'no-price').map((p) => [p.key, p.detail])).toEqual([['1xl4 TP1xPP1 fp16 vllm spot', 'l4 has no spot price']])
    expect(result.ranked.map((c) => c.pricing)).toEqual(['on-demand'])
  })

  it('Pareto frontier: no ranked candidate is both cheaper and faster than a frontier point', () => {
    const result = searchDeployments(
      store,
      input({gpus: [store.get('gpu', 'h100-sxm'), store.get('gpu', 'h200'), store.get('gpu', 'l40s')], maxGpus: 4, quants: ['int4', 'int8', 'fp16']}),
    )
    expect(result.pareto.tpot.length).toBeGreaterThan(0)
    for (const key of result.pareto.tpot) {
      const p = result.ranked.find((c) => c.key === key)!
      const dominated = result.ranked.some((c) => c.monthlyCost < p.monthlyCost && c.throughput.tpotMs! < p.throughput.tpotMs!)
      expect(dominated).toBe(false)
    }
    expect(result.ranked.map((c) => c.rank)).toEqual(result.ranked.map((_, i) => i + 1))
  })
})
