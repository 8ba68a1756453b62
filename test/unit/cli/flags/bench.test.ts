import {Config} from '@oclif/core'
import {beforeAll, describe, expect, it} from 'vitest'

import {CapplanCommand} from '../../../../src/cli/base-command.js'
import {benchFlag} from '../../../../src/cli/flags/bench.js'
import {CapplanError} from '../../../../src/lib/errors.js'

class BenchFlags extends CapplanCommand<typeof BenchFlags> {
  static override flags = {
    quant: benchFlag.quant({default: ['int4'], defaultHelp: async () => 'int4'}),
    concurrency: benchFlag.concurrency(),
    rate: benchFlag.rate(),
    duration: benchFlag.duration(),
    precision: benchFlag.precision(),
    host: benchFlag.host(),
    slo: benchFlag.slo(),
    'startup-timeout': benchFlag['startup-timeout']({default: 600_000, defaultHelp: async () => '10m'}),
    'request-timeout': benchFlag['request-timeout'](),
  }

  async run() {
    return this.flags
  }
}

let config: Config
beforeAll(async () => {
  config = await Config.load(process.cwd())
})

describe("bench's value flags", () => {
  it('arrive as values (defaults as given)', async () => {
    const flags = await BenchFlags.run(
      ['--concurrency', '4,1,2', '--rate', '0.5,1', '--duration', '1m30s', '--precision', '3%', '--host', '0.0.0.0', '--slo', 'ttft=2s', '--request-timeout', '500ms'],
      config,
    )
    expect(flags).toMatchObject({
      quant: ['int4'],
      concurrency: [1, 2, 4],
      rate: [0.5, 1],
      duration: 90_000,
      precision: 0.03,
      host: '0.0.0.0',
      slo: {ttftMs: 2000},
      'startup-timeout': 600_000,
      'request-timeout': 500,
    })
  })

  it("refuse a bad value with the parser's own message", async () => {
    const error = await BenchFlags.run(['--quant', 'int3'], config).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(CapplanError)
    expect((error as CapplanError).message).toBe('--quant "int3" is not a quantization level.')
    process.exitCode = undefined
  })
})
