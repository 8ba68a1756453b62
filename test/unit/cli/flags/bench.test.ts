import {Config} from '@oclif/core'
import {afterEach, beforeAll, describe, expect, it} from 'vitest'

import {CapplanCommand} from '../../../../src/cli/base-command.js'
import {BENCH_DEFAULTS, benchFlags} from '../../../../src/cli/flags/bench.js'
import {CapplanError} from '../../../../src/lib/errors.js'

/** `capplan bench`'s own flag block, returning what run() receives. */
class BenchFlags extends CapplanCommand<typeof BenchFlags> {
  static override strict = false
  static override flags = benchFlags

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

const refusal = async (argv: string[]): Promise<CapplanError> => {
  const error = await BenchFlags.run(argv, config).catch((caught: unknown) => caught)
  expect(error).toBeInstanceOf(CapplanError)
  expect((error as CapplanError).kind).toBe('INVALID_INPUT')
  expect((error as CapplanError).exitCode).toBe(3)
  return error as CapplanError
}

describe("bench's flags", () => {
  it('arrive as values', async () => {
    const flags = await BenchFlags.run(
      [
        '--quant',
        'fp16,INT4',
        '--concurrency',
        '4,1,2',
        '--duration',
        '1m30s',
        '--host',
        ' 0.0.0.0 ',
        '--slo',
        'ttft=2s,tpot=50ms',
        '--startup-timeout',
        '2m',
        '--request-timeout',
        '500ms',
      ],
      config,
    )
    expect(flags).toMatchObject({
      quant: ['fp16', 'int4'],
      concurrency: [1, 2, 4],
      duration: 90_000,
      host: '0.0.0.0',
      slo: {ttftMs: 2000, tpotMs: 50},
      'startup-timeout': 120_000,
      'request-timeout': 500,
    })
    expect(await BenchFlags.run(['--rate', '0.5,1', '--precision', '3%'], config)).toMatchObject({rate: [0.5, 1], precision: 0.03})
  })

  it('defaults are values (int4, a 10 min start-up); --concurrency has none, so it can exclude --rate and --sweep', async () => {
    const flags = await BenchFlags.run([], config)
    expect(flags).toMatchObject({model: 'qwen2.5-0.5b', quant: ['int4'], 'startup-timeout': 600_000, workload: 'chat', 'results-dir': 'results', seed: 1})
    expect(flags.concurrency).toBeUndefined()
    expect(flags.rate).toBeUndefined()
    expect(flags['request-timeout']).toBeUndefined()
    expect(BENCH_DEFAULTS.concurrency).toEqual([1, 2, 4])
  })

  it("refuse a bad value with the parser's own message, naming the flag", async () => {
    expect((await refusal(['--quant', 'int3'])).message).toBe('--quant "int3" is not a quantization level.')
    expect((await refusal(['--concurrency', '0,x'])).message).toBe('--concurrency "0" is not a whole number from 1 to 256.')
    expect((await refusal(['--rate', 'abc'])).message).toBe('--rate: "abc" is not a positive number of requests per second.')
    expect((await refusal(['--duration', '60'])).message).toBe('--duration: cannot read "60" as a duration.')
    expect((await refusal(['--precision', '200%'])).message).toBe('--precision: 200% is out of range.')
    expect((await refusal(['--host', 'http://x'])).message).toBe('--host "http://x" is not an address.')
    expect((await refusal(['--slo', 'ttft=banana'])).message).toBe('--slo: cannot read "ttft=banana".')
    expect((await refusal(['--startup-timeout', '10'])).message).toBe('--startup-timeout: cannot read "10" as a duration.')
    expect((await refusal(['--request-timeout', '0s'])).message).toBe('--request-timeout: "0s" must be longer than 0.')
  })
})
