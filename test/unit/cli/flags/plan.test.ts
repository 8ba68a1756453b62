import {Config} from '@oclif/core'
import {afterEach, beforeAll, describe, expect, it} from 'vitest'

import {CapplanCommand} from '../../../../src/cli/base-command.js'
import {planFlags} from '../../../../src/cli/flags/plan.js'
import {CapplanError} from '../../../../src/lib/errors.js'

/** `capplan plan`'s own flag block, returning what run() receives. */
class PlanFlags extends CapplanCommand<typeof PlanFlags> {
  static override flags = planFlags

  async run() {
    return this.flags
  }
}

let config: Config
beforeAll(async () => {
  config = await Config.load(process.cwd())
})
afterEach(() => {
  process.exitCode = undefined
})

const base = {throughput: '25', 'gpu-price': '2.5', volume: '100M', api: 'gpt-4o'}
const argvOf = (flags: Record<string, string>) => Object.entries(flags).flatMap(([name, value]) => [`--${name}`, value])

describe("plan's flags", () => {
  it('arrive as values: numbers, token counts, the ratio, API ids deduplicated', async () => {
    const flags = await PlanFlags.run(
      ['-t', '25', '--gpus', '2', '--gpu', 'h100-sxm', '--pricing', 'spot', '--daily-volume', '1.5B', '--io-ratio', '3:1', '--api', 'gpt-4o, gpt-4o@seed-000,gpt-4o'],
      config,
    )
    expect(flags).toMatchObject({
      throughput: 25,
      gpus: 2,
      gpu: 'h100-sxm',
      pricing: 'spot',
      'daily-volume': 1_500_000_000,
      'io-ratio': {input: 3, output: 1},
      api: ['gpt-4o', 'gpt-4o@seed-000'],
    })
    expect(
      await PlanFlags.run(argvOf({'hours-per-month': '720', utilization: '0.6', 'peak-factor': '2.5', 'kwh-price': '0.12', 'power-watts': '550', pue: '1.3'}), config),
    ).toMatchObject({'hours-per-month': 720, utilization: 0.6, 'peak-factor': 2.5, 'kwh-price': 0.12, 'power-watts': 550, pue: 1.3})
  })

  it.each<[Record<string, string>, string, string]>([
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
    [{api: ' , '}, '--api names no API.', '--api gpt-4o'],
    [{'kwh-price': '0.12', 'power-watts': '700', pue: '0.9'}, '--pue must be at least 1 (got "0.9").', '--pue 1.3'],
  ])('%j -> INVALID_INPUT (exit 3) while oclif parses, with the message and example of cli/parsers/cost.ts', async (override, message, suggested) => {
    const error = await PlanFlags.run(argvOf({...base, ...override}), config).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(CapplanError)
    expect((error as CapplanError).kind).toBe('INVALID_INPUT')
    expect((error as CapplanError).exitCode).toBe(3)
    expect((error as CapplanError).message).toBe(message)
    expect((error as CapplanError).suggestion).toContain(suggested)
  })
})
