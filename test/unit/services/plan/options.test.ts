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

const base: PlanFlagValues = {throughput: '25', 'gpu-price': '2.5', volume: '100M', api: 'gpt-4o'}

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
    const input = planInputFromFlags({...base, gpus: '1', 'hours-per-month': '720', api: 'gpt-4o,claude-3.5-sonnet'}, store)
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
    const input = planInputFromFlags({'output-throughput': '10', 'io-ratio': '3:1', 'gpu-price': '2'}, store)
    expect(planCost(input).inputs.totalTokensPerSecond).toBe(40)
  })

  it('--daily-volume, --peak-factor, --utilization pass through', () => {
    const {volume: _volume, ...rest} = base
    const input = planInputFromFlags({...rest, 'daily-volume': '1.5B', 'peak-factor': '2.5', utilization: '0.6'}, store)
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
    const input = planInputFromFlags({...base, 'kwh-price': '0.12', 'power-watts': '550', pue: '1.3'}, store)
    expect(input.energy).toEqual({powerWattsPerGpu: 550, powerSource: '--power-watts', pue: 1.3, usdPerKwh: 0.12})
    const fromTdp = planInputFromFlags({throughput: '25', gpu: 'h100-sxm', 'kwh-price': '0.12'}, store)
    expect(fromTdp.energy).toMatchObject({powerWattsPerGpu: store.get('gpu', 'h100-sxm').tdpWatts, pue: 1})
  })

  it.each<[PlanFlagValues, string, string]>([
    [{volume: '10X'}, '--volume "10X" is not a token count.', '--volume 100M'],
    [{volume: '0'}, '--volume must be more than 0 tokens (got "0").', '--volume 100M'],
    [{'gpu-price': '0'}, '--gpu-price must be more than 0 (got "0").', '--gpu-price 2.5'],
    [{'gpu-price': '-1'}, '--gpu-price must be more than 0 (got "-1").', '--gpu-price 2.5'],
    [{'gpu-price': 'cheap'}, '--gpu-price "cheap" is not a number.', '--gpu-price 2.5'],
    [{throughput: '0'}, '--throughput must be more than 0 (got "0").', '--throughput 25'],
    [{throughput: '-25'}, '--throughput must be more than 0 (got "-25").', '--throughput 25'],
    [{gpus: '0'}, '--gpus must be more than 0 (got "0").', '--gpus 8'],
    [{gpus: '1.5'}, '--gpus must be a whole number (got "1.5").', '--gpus 8'],
    [{utilization: '0'}, '--utilization must be more than 0 (got "0").', '--utilization 0.6'],
    [{utilization: '1.5'}, '--utilization must be at most 1 (got "1.5").', '--utilization 0.6'],
    [{'hours-per-month': '800'}, '--hours-per-month 800 is more than a month has (744 h = 31 days).', '--hours-per-month 730'],
    [{'io-ratio': '3-1'}, '--io-ratio "3-1" is not an input:output ratio.', '--io-ratio 3:1'],
    [{'peak-factor': '0.5'}, '--peak-factor must be at least 1 (got "0.5").', '--peak-factor 3'],
    [{gpu: 'h100-sxm'}, '--gpu-price and --gpu cannot be used together.', '--gpu-price 2.5'],
    [{'output-throughput': '10'}, '--throughput and --output-throughput cannot be used together.', '--throughput 25'],
    [{'daily-volume': '1M'}, '--volume and --daily-volume cannot be used together.', '--volume 100M'],
    [{api: ' , '}, '--api names no API.', '--api gpt-4o'],
    [{pricing: 'spot'}, '--pricing needs --gpu (it picks a price tier of a GPU profile).', '--gpu h100-sxm --pricing spot'],
    [{'power-watts': '700'}, '--power-watts needs --kwh-price.', '--kwh-price 0.12'],
    [{'kwh-price': '0.12'}, "--kwh-price needs the GPU's average power: no --gpu profile was given.", '--power-watts 700'],
    [{'kwh-price': '0.12', 'power-watts': '700', pue: '0.9'}, '--pue must be at least 1 (got "0.9").', '--pue 1.3'],
  ])('%j -> INVALID_INPUT', (override, message, suggested) => {
    const error = errorOf({...base, ...override})
    expect(error.kind).toBe('INVALID_INPUT')
    expect(error.exitCode).toBe(3)
    expect(error.message).toBe(message)
    expect(error.suggestion).toContain(suggested)
  })

  it('missing throughput or price', () => {
    expect(errorOf({'gpu-price': '2.5'}).message).toBe('No throughput given.')
    expect(errorOf({throughput: '25'}).message).toBe('No GPU price given.')
  })

  it('--output-throughput at an N:0 ratio is refused', () => {
    expect(errorOf({'output-throughput': '10', 'io-ratio': '1:0', 'gpu-price': '2'}).message).toContain('no output tokens')
  })

  it('unknown ids are NOT_FOUND (exit 4) with the closest ids', () => {
    const api = errorOf({...base, api: 'gpt-4'})
    expect(api.kind).toBe('NOT_FOUND')
    expect(api.exitCode).toBe(4)
    expect(api.message).toContain('gpt-4o')
    const {'gpu-price': _price, ...rest} = base
    expect(errorOf({...rest, gpu: 'a100'}).kind).toBe('NOT_FOUND')
    expect(errorOf({...base, api: 'gpt-4o@seed-999'}).message).toContain('gpt-4o@seed-000')
  })
})
