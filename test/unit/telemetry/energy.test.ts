import {describe, expect, it} from 'vitest'

import {levelTelemetrySchema, type GpuSample} from '../../../src/results/schema.js'
import {counterEnergyJ, integrateAllGpusJ, integratePowerJ, levelTelemetry} from '../../../src/telemetry/energy.js'

const sample = (gpu: number, tMs: number, powerW: number | null): GpuSample => ({
  tMs,
  gpu,
  powerW,
  utilizationPct: 90,
  memoryUsedMiB: 1000,
  smClockMHz: 1980,
  temperatureC: 60,
})

describe('integratePowerJ (trapezoid rule)', () => {
  const ramp = [
    {tMs: 0, powerW: 100},
    {tMs: 1000, powerW: 200},
    {tMs: 2000, powerW: 200},
  ]

  it('integrates between the first and last sample without a window', () => {
    // (100+200)/2 W x 1 s + (200+200)/2 W x 1 s = 150 + 200 = 350 J
    expect(integratePowerJ(ramp)).toBe(350)
  })

  it('holds the edge power out to a wider window', () => {
    // 350 J + 100 W x 0.5 s (before the first sample) + 200 W x 0.5 s (after the last) = 350 + 50 + 100 = 500 J
    expect(integratePowerJ(ramp, -500, 2500)).toBe(500)
  })

  it('clips to a narrower window, interpolating the power at its edges', () => {
    // P(500) = 150 W; (150+200)/2 x 0.5 s + (200+200)/2 x 0.5 s = 87.5 + 100 = 187.5 J
    expect(integratePowerJ(ramp, 500, 1500)).toBe(187.5)
  })

  it('sorts samples, skips ones without power, and returns null when none has power', () => {
    // samples out of order and one [N/A]: the same 350 J
    expect(integratePowerJ([ramp[2]!, {tMs: 500, powerW: null}, ramp[0]!, ramp[1]!])).toBe(350)
    expect(integratePowerJ([{tMs: 0, powerW: null}])).toBeNull()
    // one sample held over a 2 s window: 300 W x 2 s = 600 J
    expect(integratePowerJ([{tMs: 1000, powerW: 300}], 0, 2000)).toBe(600)
  })

  it('sums GPUs separately (never trapezoids across two GPUs)', () => {
    // GPU 0: 100 W flat over 1 s = 100 J; GPU 1: 300 W flat = 300 J; total 400 J
    const samples = [sample(0, 0, 100), sample(1, 0, 300), sample(0, 1000, 100), sample(1, 1000, 300)]
    expect(integrateAllGpusJ(samples)).toBe(400)
  })
})

describe('counterEnergyJ', () => {
  it('sums the per-GPU counter differences, millijoules -> joules', () => {
    // (1_350_000 - 1_000_000) + (5_650_000 - 5_000_000) = 1_000_000 mJ = 1000 J
    expect(
      counterEnergyJ(
        new Map([
          [0, 1_000_000],
          [1, 5_000_000],
        ]),
        new Map([
          [0, 1_350_000],
          [1, 5_650_000],
        ]),
      ),
    ).toBe(1000)
  })

  it('refuses a counter that went backwards or a GPU missing from one read', () => {
    expect(counterEnergyJ(new Map([[0, 2_000]]), new Map([[0, 1_000]]))).toBeNull()
    expect(
      counterEnergyJ(
        new Map([
          [0, 1_000],
          [1, 1_000],
        ]),
        new Map([[0, 2_000]]),
      ),
    ).toBeNull()
    expect(counterEnergyJ(new Map(), new Map())).toBeNull()
  })
})

describe('levelTelemetry', () => {
  const samples = [sample(0, 0, 100), sample(0, 1000, 200), sample(0, 2000, 200)]

  it('prefers the driver counter and divides by output tokens', () => {
    const telemetry = levelTelemetry({
      samples,
      counterBeforeMJ: new Map([[0, 1_000_000]]),
      counterAfterMJ: new Map([[0, 1_400_000]]),
      window: {startMs: 0, endMs: 2000},
      outputTokens: 800,
    })
    expect(levelTelemetrySchema.parse(telemetry)).toEqual(telemetry)
    expect(telemetry).toMatchObject({energyJ: 400, energySource: 'counter', joulesPerOutputToken: 0.5, notes: []}) // 400 J / 800 tok
  })

  it('integrates samples when there is no counter, or when the counter misses a sampled GPU', () => {
    const noCounter = levelTelemetry({samples, counterBeforeMJ: new Map(), counterAfterMJ: new Map(), window: {startMs: 0, endMs: 2000}, outputTokens: 700})
    expect(noCounter).toMatchObject({energyJ: 350, energySource: 'integrated', joulesPerOutputToken: 0.5}) // 350 J / 700 tok
    const partial = levelTelemetry({
      samples: [...samples, sample(1, 0, 50), sample(1, 2000, 50)],
      counterBeforeMJ: new Map([[0, 0]]),
      counterAfterMJ: new Map([[0, 999_000]]),
      window: {startMs: 0, endMs: 2000},
      outputTokens: 0,
    })
    // 350 J (GPU 0) + 50 W x 2 s (GPU 1) = 450 J; no output tokens -> no J/token
    expect(partial).toMatchObject({energyJ: 450, energySource: 'integrated', joulesPerOutputToken: null})
    expect(partial.notes).toEqual([expect.stringContaining('energy counter was unusable')])
  })

  it('reports no energy without samples or counters, keeping the notes', () => {
    const none = levelTelemetry({
      samples: [],
      counterBeforeMJ: new Map(),
      counterAfterMJ: new Map(),
      window: {startMs: 0, endMs: 1000},
      outputTokens: 10,
      notes: ['nvidia-smi not found'],
    })
    expect(none).toEqual({gpuSamples: [], energyJ: null, energySource: null, joulesPerOutputToken: null, notes: ['nvidia-smi not found']})
  })
})
