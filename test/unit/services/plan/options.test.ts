import {beforeAll, describe, expect, it} from 'vitest'

import {parseApiList} from '../../../../src/cli/parsers/cost.js'
import {resolveApis} from '../../../../src/cost/plan-input.js'
import {planInputFromFlags, type PlanFlagValues} from '../../../../src/services/plan/options.js'
import {planCost} from '../../../../src/cost/plan.js'
import {CapplanError} from '../../../../src/lib/errors.js'
import {loadProfiles} from '../../../../src/profiles/load.js'
import {type ProfileStore} from '../../../../src/profiles/store.js'

let store: ProfileStore
beforeAll(async () => {
  store = await loadProfiles()
})

/** `--throughput 25 --gpu-price 2.5 --volume 100M --api gpt-4o` as oclif parses it (src/cli/flags/plan.ts). */
const base: PlanFlagValues = {throughput: 25, 'gpu-price': 2.5, volume: 100_000_000, api: ['gpt-4o']}

function errorOf(flags: PlanFlagValues): CapplanError {
  try {
    planInputFromFlags(flags, store)
  } catch (error) {
    expect(error).toBeInstanceOf(CapplanError)
    return error as CapplanError
  }
  throw new Error(`expected an error for ${JSON.stringify(flags)}`)
}

describe('planInputFromFlags', () => {
  it('maps the issue example', () => {
    const input = planInputFromFlags({...base, gpus: 1, 'hours-per-month': 720, api: ['gpt-4o', 'claude-3.5-sonnet']}, store)
    expect(input).toMatchObject({
      totalTokensPerSecond: 25,
      usdPerGpuHour: 2.5,
      gpuPriceSource: '--gpu-price',
      gpusPerReplica: 1,
      hoursPerMonth: 720,
      ioRatio: {input: 1, output: 1},
      monthlyVolumeTokens: 100_000_000,
    })
    expect(input.apis.map((a) => a.id)).toEqual(['gpt-4o', 'claude-3.5-sonnet'])
  })

  it('--output-throughput 10 --io-ratio 3:1 -> 40 total tok/s', () => {
    const input = planInputFromFlags({'output-throughput': 10, 'io-ratio': {input: 3, output: 1}, 'gpu-price': 2}, store)
    expect(planCost(input).inputs.totalTokensPerSecond).toBe(40)
  })

  it('--daily-volume, --peak-factor, --utilization pass through', () => {
    const {volume: _volume, ...rest} = base
    const input = planInputFromFlags({...rest, 'daily-volume': 1_500_000_000, 'peak-factor': 2.5, utilization: 0.6}, store)
    expect(input).toMatchObject({dailyVolumeTokens: 1_500_000_000, peakFactor: 2.5, utilization: 0.6})
    expect(input.monthlyVolumeTokens).toBeUndefined()
  })

  it('variants and de-duplication in --api', () => {
    const apis = resolveApis(store, parseApiList(' gpt-4o@seed-000 , gpt-4o@seed-000,claude-opus-4.6'))
    expect(apis.map((a) => [a.id, a.variant, a.inputPerMTok, a.outputPerMTok])).toEqual([
      ['gpt-4o', 'seed-000', 7.5, 7.5],
      ['claude-opus-4.6', null, 5, 25],
    ])
  })

  it('energy: --power-watts and --pue override the TDP and the default PUE 1', () => {
    const input = planInputFromFlags({...base, 'kwh-price': 0.12, 'power-watts': 550, pue: 1.3}, store)
    expect(input.energy).toEqual({powerWattsPerGpu: 550, powerSource: '--power-watts', pue: 1.3, usdPerKwh: 0.12})
    const fromTdp = planInputFromFlags({throughput: 25, gpu: 'h100-sxm', 'kwh-price': 0.12}, store)
    expect(fromTdp.energy).toMatchObject({powerWattsPerGpu: store.get('gpu', 'h100-sxm').tdpWatts, pue: 1})
  })

  // A bad value (--volume 10X, --gpus 1.5, --pue 0.9, ...) is refused while oclif parses: test/unit/cli/flags/plan.test.ts.
  it.each<[PlanFlagValues, string, string]>([
    [{gpu: 'h100-sxm'}, '--gpu-price and --gpu cannot be used together.', '--gpu-price 2.5'],
    [{'output-throughput': 10}, '--throughput and --output-throughput cannot be used together.', '--throughput 25'],
    [{'daily-volume': 1_000_000}, '--volume and --daily-volume cannot be used together.', '--volume 100M'],
    [{pricing: 'spot'}, '--pricing needs --gpu (it picks a price tier of a GPU profile).', '--gpu h100-sxm --pricing spot'],
    [{'power-watts': 700}, '--power-watts needs --kwh-price.', '--kwh-price 0.12'],
    [{'kwh-price': 0.12}, "--kwh-price needs the GPU's average power: no --gpu profile was given.", '--power-watts 700'],
  ])('%j -> INVALID_INPUT', (override, message, suggested) => {
    const error = errorOf({...base, ...override})
    expect(error.kind).toBe('INVALID_INPUT')
    expect(error.exitCode).toBe(3)
    expect(error.message).toBe(message)
    expect(error.suggestion).toContain(suggested)
  })

  it('missing throughput or price', () => {
    expect(errorOf({'gpu-price': 2.5}).message).toBe('No throughput given.')
    expect(errorOf({throughput: 25}).message).toBe('No GPU price given.')
  })

  it('--output-throughput at an N:0 ratio is refused', () => {
    expect(errorOf({'output-throughput': 10, 'io-ratio': {input: 1, output: 0}, 'gpu-price': 2}).message).toContain('no output tokens')
  })

  it('unknown ids are NOT_FOUND (exit 4) with the closest ids', () => {
    const api = errorOf({...base, api: ['gpt-4']})
    expect(api.kind).toBe('NOT_FOUND')
    expect(api.exitCode).toBe(4)
    expect(api.message).toContain('gpt-4o')
    const {'gpu-price': _price, ...rest} = base
    expect(errorOf({...rest, gpu: 'a100'}).kind).toBe('NOT_FOUND')
    expect(errorOf({...base, api: ['gpt-4o@seed-999']}).message).toContain('gpt-4o@seed-000')
  })
})
