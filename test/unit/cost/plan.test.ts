import {describe, expect, it} from 'vitest'

import {planCost, type PlanApiPrice} from '../../../src/cost/plan.js'
import {CapplanError} from '../../../src/lib/errors.js'
import {planVerdicts, renderPlanTable} from '../../../src/report/render/plan-table.js'

const gpt4o: PlanApiPrice = {
  id: 'gpt-4o',
  name: 'GPT-4o',
  variant: null,
  inputPerMTok: 2.5,
  outputPerMTok: 10,
  source: 'test',
  date: '2026-11',
}
const sonnet: PlanApiPrice = {...gpt4o, id: 'claude-3.5-sonnet', name: 'Claude 3.5 Sonnet', inputPerMTok: 3, outputPerMTok: 15}

/** The example: capplan plan --throughput 25 --gpus 1 --gpu-price 2.5 --hours-per-month 720 --volume 100M */
const example = () =>
  planCost({
    totalTokensPerSecond: 25,
    gpusPerReplica: 1,
    usdPerGpuHour: 2.5,
    hoursPerMonth: 720,
    monthlyVolumeTokens: 100e6,
    apis: [gpt4o, sonnet],
  })

describe('planCost: the issue example', () => {
  it('replica: 2.5 x 1 x 720 = $1,800/month; 25 x 3600 x 720 = 64.8M tokens/month; $27.78/1M', () => {
    const r = example()
    expect(r.replicaMonthlyCost).toBe(1800)
    expect(r.replicaCapacityTokensPerMonth).toBe(64_800_000)
    expect(r.costPerMillionTokens).toBeCloseTo(27.7778, 4) // 1800 / 64.8
    // at 1:1 half the tokens are output: 1800 / 32.4 = 55.56 per 1M output tokens
    expect(r.costPerMillionOutputTokens).toBeCloseTo(55.5556, 4)
  })

  it('100M tokens -> ceil(100 / 64.8) = 2 replicas = 2 GPUs = $3,600/month, $43,200/year', () => {
    const r = example()
    expect(r.replicas).toBe(2)
    expect(r.gpus).toBe(2)
    expect(r.selfHostedMonthlyCost).toBe(3600)
    expect(r.selfHostedAnnualCost).toBe(43_200)
    expect(r.fleetUtilization).toBeCloseTo(100 / 129.6, 10)
  })

  it('GPT-4o at 1:1: (2.50 + 10) / 2 = $6.25/1M -> $625/month, $7,500/year; crossover never', () => {
    const api = example().apis[0]!
    expect(api.blendedPerMTok).toBe(6.25)
    expect(api.inputPartPerMTok).toBe(1.25)
    expect(api.outputPartPerMTok).toBe(5)
    expect(api.monthlyCost).toBe(625)
    expect(api.monthlyInputCost).toBe(125) // 50M input tokens x $2.50
    expect(api.monthlyOutputCost).toBe(500) // 50M output tokens x $10
    expect(api.annualCost).toBe(7500)
    expect(api.monthlySavingBySelfHosting).toBe(625 - 3600)
    expect(api.crossover.volumeTokensPerMonth).toBeNull()
    expect(api.crossover.reason).toMatch(/^never: self-hosted \$27\.78\/1M > API \$6\.25\/1M at any volume/)
    // 1800 / (6.25e-6 x 3600 x 720) = 1800 / 16.2 = 111.11 tok/s
    expect(api.breakEvenThroughputTokensPerSecond).toBeCloseTo(111.1111, 4)
  })

  it('Claude 3.5 Sonnet at 1:1: (3 + 15) / 2 = $9/1M -> $900/month; never; break-even 77.16 tok/s', () => {
    const api = example().apis[1]!
    expect(api.blendedPerMTok).toBe(9)
    expect(api.monthlyCost).toBe(900)
    expect(api.crossover.volumeTokensPerMonth).toBeNull()
    expect(api.breakEvenThroughputTokensPerSecond).toBeCloseTo(77.1605, 4) // 1800 / (9e-6 x 2,592,000) = 1800 / 23.328
  })

  it('renders the hand-calculated numbers and a verdict per API', () => {
    const text = renderPlanTable(example())
    for (const expected of ['$1,800.00/month', '64.8M tokens/month', '$27.78', '2 replicas', '$3,600.00', '$6.25', '$625.00', '$900.00', 'never', '111.11']) {
      expect(text).toContain(expected)
    }
    const verdicts = planVerdicts(example())
    expect(verdicts).toHaveLength(2)
    expect(verdicts[0]).toBe(
      'GPT-4o: at 100M tokens/month the API is cheaper ($625.00 vs $3,600.00 self-hosted); never: self-hosted $27.78/1M > API $6.25/1M at any volume ' +
        '(each added replica costs more than the API for the tokens it adds); a replica would need more than 111.11 tok/s to ever beat it.',
    )
    expect(text).not.toMatch(/\u001B\[/) // no ANSI colour codes in the table
  })
})

describe('planCost: other inputs', () => {
  it('output throughput at 3:1: 10 output tok/s -> 40 total tok/s', () => {
    const r = planCost({outputTokensPerSecond: 10, usdPerGpuHour: 2, ioRatio: {input: 3, output: 1}, apis: [gpt4o]})
    expect(r.inputs.totalTokensPerSecond).toBe(40)
    expect(r.inputs.throughputGivenAs).toBe('output')
    expect(r.replicaCapacityTokensPerMonth).toBe(105_120_000) // 40 x 3600 x 730 (default hours)
    expect(r.replicaMonthlyCost).toBe(1460) // 2 x 730
    // GPT-4o at 3:1 = (3 x 2.5 + 10) / 4 = 4.375
    expect(r.apis[0]!.blendedPerMTok).toBe(4.375)
    // no volume: no fleet, no monthly API cost
    expect(r.replicas).toBeNull()
    expect(r.selfHostedMonthlyCost).toBeNull()
    expect(r.apis[0]!.monthlyCost).toBeNull()
  })

  it('daily volume: 100M/day at 730 h = 100M x 730/24 per month = 3.0417B; annual API at $15/1M = $547,500', () => {
    const r = planCost({
      totalTokensPerSecond: 1000,
      usdPerGpuHour: 2,
      dailyVolumeTokens: 100e6,
      apis: [{...gpt4o, inputPerMTok: 15, outputPerMTok: 15}],
    })
    expect(r.inputs.volume?.tokensPerMonth).toBeCloseTo(3_041_666_666.67, 1)
    expect(r.apis[0]!.annualCost).toBeCloseTo(547_500, 6) // 36,500M tokens a year x $15
  })

  it('renders a daily volume with the days per month it assumes, and the peak and energy lines', () => {
    const text = renderPlanTable(
      planCost({
        totalTokensPerSecond: 2400,
        gpusPerReplica: 8,
        usdPerGpuHour: 2,
        dailyVolumeTokens: 100e6,
        peakFactor: 3,
        apis: [gpt4o],
        energy: {powerWattsPerGpu: 700, powerSource: 'h100-sxm TDP', pue: 1.2, usdPerKwh: 0.1},
      }),
    )
    // 100M x 730 / 24 = 3.0417B; capacity 2400 x 3600 x 730 = 6.3072B -> 1 replica, 48% used; 8 x 2 x 730 = $11,680
    expect(text).toContain('Volume: 3.04B tokens/month (100M/day x 30.42 days) -> 1 replica (8 GPUs, 48% of capacity used) = $11,680.00/month')
    // peak: ceil(3.0417 x 3 / 6.3072) = ceil(1.45) = 2 replicas = 16 GPUs = $23,360
    expect(text).toContain('Peak x3: 2 replicas (16 GPUs) = $23,360.00/month if provisioned for the peak')
    // energy: 700 x 8 x 730 x 1.2 / 1000 = 4905.6 kWh x $0.10 = $490.56
    expect(text).toContain('Energy: 700 W/GPU (h100-sxm TDP) x PUE 1.2 x $0.10/kWh = $490.56/month per replica, $490.56/month for the fleet (not included above)')
  })

  it('crossover inside the first replica when a replica is cheap per token', () => {
    // 1000 tok/s x 3600 x 720 = 2.592B tokens for $1,800: $0.69/1M < $6.25 -> V* = 1800 / 6.25 = 288M
    const r = planCost({totalTokensPerSecond: 1000, usdPerGpuHour: 2.5, hoursPerMonth: 720, monthlyVolumeTokens: 100e6, apis: [gpt4o]})
    expect(r.apis[0]!.crossover.kind).toBe('first-replica')
    expect(r.apis[0]!.crossover.volumeTokensPerMonth).toBeCloseTo(288e6, 0)
  })

  it('renders a crossover that later replicas push out (120 tok/s replica vs GPT-4o at 1:1)', () => {
    // capacity 120 x 3600 x 720 = 311.04M for $1,800 ($5.79/1M < $6.25); V* = 1800 / 6.25 = 288M;
    // K / (K - V*) = 311.04 / 23.04 = 13.5 -> 13 steps start dear, crossover 13 x 288M = 3.744B, 12 windows below
    const r = planCost({totalTokensPerSecond: 120, usdPerGpuHour: 2.5, hoursPerMonth: 720, monthlyVolumeTokens: 100e6, apis: [gpt4o]})
    expect(r.apis[0]!.crossover.volumeTokensPerMonth).toBeCloseTo(3.744e9, 0)
    expect(r.apis[0]!.crossover.earlierCheaperWindowCount).toBe(12)
    const text = renderPlanTable(r)
    expect(text).toContain('> 3.74B/month')
    expect(planVerdicts(r)[0]).toBe(
      'GPT-4o: at 100M tokens/month the API is cheaper ($625.00 vs $1,800.00 self-hosted); cheaper to self-host at every volume above ' +
        '3.74B tokens/month (13 replicas; self-hosted $5.79/1M < API $6.25/1M); below that each newly needed replica makes it dearer ' +
        'again, so it is cheaper only in 12 windows just before a replica fills, e.g. 288M-311.04M.',
    )
  })

  it('utilization scales capacity: 0.5 halves it and doubles $/1M', () => {
    const r = planCost({totalTokensPerSecond: 25, usdPerGpuHour: 2.5, hoursPerMonth: 720, utilization: 0.5, monthlyVolumeTokens: 100e6, apis: []})
    expect(r.replicaCapacityTokensPerMonth).toBe(32_400_000)
    expect(r.costPerMillionTokens).toBeCloseTo(55.5556, 4)
    expect(r.replicas).toBe(4) // ceil(100 / 32.4) = ceil(3.09)
  })

  it('peak factor: replicas for the peak = ceil(volume x peak / capacity)', () => {
    // 100M x 3 / 64.8M = 4.63 -> 5 replicas of 8 GPUs = 40 GPUs, 5 x $14,400 = $72,000/month
    const r = planCost({totalTokensPerSecond: 25, gpusPerReplica: 8, usdPerGpuHour: 2.5, hoursPerMonth: 720, monthlyVolumeTokens: 100e6, peakFactor: 3, apis: []})
    expect(r.peak).toEqual({factor: 3, replicas: 5, gpus: 40, monthlyCost: 72_000, annualCost: 864_000})
    expect(r.replicas).toBe(2)
  })

  it('energy: 400 W x 12 GPUs x 720 h x PUE 1.3 / 1000 = 4492.8 kWh x $0.15 = $673.92 per replica', () => {
    const r = planCost({
      totalTokensPerSecond: 30,
      gpusPerReplica: 12,
      usdPerGpuHour: 2.5,
      hoursPerMonth: 720,
      monthlyVolumeTokens: 100e6,
      apis: [],
      energy: {powerWattsPerGpu: 400, powerSource: 'a100-80gb-sxm TDP', pue: 1.3, usdPerKwh: 0.15},
    })
    expect(r.energy?.kwhPerReplicaMonth).toBeCloseTo(4492.8, 9)
    expect(r.energy?.monthlyCostPerReplica).toBeCloseTo(673.92, 9)
    expect(r.energy?.monthlyCostForFleet).toBeCloseTo(1347.84, 9) // 2 replicas (100 / 77.76)
    expect(r.selfHostedMonthlyCost).toBe(43_200) // energy is reported beside, not added
  })

  it.each([
    [{totalTokensPerSecond: 0}, 'totalTokensPerSecond'],
    [{totalTokensPerSecond: 25, usdPerGpuHour: -1}, 'usdPerGpuHour'],
    [{totalTokensPerSecond: 25, utilization: 1.5}, 'utilization'],
    [{totalTokensPerSecond: 25, gpusPerReplica: 0}, 'gpusPerReplica'],
    [{totalTokensPerSecond: 25, monthlyVolumeTokens: 0}, 'monthlyVolumeTokens'],
    [{totalTokensPerSecond: 25, monthlyVolumeTokens: 1, dailyVolumeTokens: 1}, 'monthly or a daily'],
    [{outputTokensPerSecond: 5, ioRatio: {input: 1, output: 0}}, 'no output tokens'],
    [{totalTokensPerSecond: 25, outputTokensPerSecond: 5}, 'exactly one'],
    [{totalTokensPerSecond: 25, peakFactor: 0.5}, 'peakFactor'],
  ])('rejects %j', (override, expected) => {
    const call = () => planCost({usdPerGpuHour: 2.5, apis: [], ...override})
    expect(call).toThrow(CapplanError)
    expect(call).toThrow(expected)
  })
})

describe('price unit wording', () => {
  it('prices a cpu profile per machine, not per GPU, and keeps GPU as the default', () => {
    const machine = planCost({totalTokensPerSecond: 10, usdPerGpuHour: 0.36, priceUnit: 'machine', monthlyVolumeTokens: 100e6, apis: []})
    expect(machine.inputs.priceUnit).toBe('machine')
    const text = renderPlanTable(machine)
    // 10 tok/s x 3600 x 730 = 26.28M per replica -> ceil(100 / 26.28) = 4 machines
    expect(text).toContain('Replica: 1 machine x $0.36/machine-hour')
    expect(text).toContain('(4 machines,')
    expect(text).not.toMatch(/\bGPU\b/)
    const gpu = planCost({totalTokensPerSecond: 10, usdPerGpuHour: 2, apis: []})
    expect(renderPlanTable(gpu)).toContain('Replica: 1 GPU x $2.00/GPU-hour')
  })
})
