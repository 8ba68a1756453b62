import {Config} from '@oclif/core'
import {beforeAll, describe, expect, it} from 'vitest'

import {CapplanCommand} from '../../../../src/cli/base-command.js'
import {estimateFlag} from '../../../../src/cli/flags/estimate.js'

class EstimateFlags extends CapplanCommand<typeof EstimateFlags> {
  static override flags = {
    bandwidth: estimateFlag.bandwidth(),
    'eta-bw': estimateFlag['eta-bw'](),
    'overhead-gb': estimateFlag['overhead-gb'](),
    'what-if': estimateFlag['what-if'](),
  }

  async run() {
    return this.flags
  }
}

let config: Config
beforeAll(async () => {
  config = await Config.load(process.cwd())
})

describe("estimate's value flags", () => {
  it('arrive as values', async () => {
    expect(await EstimateFlags.run(['--bandwidth', '3350', '--eta-bw', '0.8', '--overhead-gb', '0', '--what-if', 'h200, b200'], config)).toEqual({
      bandwidth: 3350,
      'eta-bw': 0.8,
      'overhead-gb': 0,
      'what-if': ['h200', 'b200'],
    })
  })

  it('refuse a bad value with the message the service gives today', async () => {
    await expect(EstimateFlags.run(['--eta-bw', '1.5'], config)).rejects.toThrow(/^--eta-bw must be at most 1 \(got "1\.5"\)\.$/)
    process.exitCode = undefined
  })
})
