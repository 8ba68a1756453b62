import {Config} from '@oclif/core'
import {beforeAll, describe, expect, it} from 'vitest'

import {CapplanCommand} from '../../../../src/cli/base-command.js'
import {estimateFlag} from '../../../../src/cli/flags/estimate.js'

class EstimateFlags extends CapplanCommand<typeof EstimateFlags> {
  static override flags = {
    bandwidth: estimateFlag.bandwidth(),
    'memory-gb': estimateFlag['memory-gb'](),
    tflops: estimateFlag.tflops(),
    'eta-bw': estimateFlag['eta-bw'](),
    'eta-compute': estimateFlag['eta-compute'](),
    mfu: estimateFlag.mfu(),
    'memory-utilization': estimateFlag['memory-utilization'](),
    'overhead-gb': estimateFlag['overhead-gb'](),
    measured: estimateFlag.measured(),
    'what-if': estimateFlag['what-if'](),
    'from-bandwidth': estimateFlag['from-bandwidth'](),
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
    expect(
      await EstimateFlags.run(
        [
          '--memory-gb',
          '80',
          '--tflops',
          '989',
          '--eta-compute',
          '0.5',
          '--mfu',
          '0.4',
          '--memory-utilization',
          '0.9',
          '--measured',
          '25',
          '--from-bandwidth',
          '20',
          '--what-if',
          ',',
        ],
        config,
      ),
    ).toEqual({'memory-gb': 80, tflops: 989, 'eta-compute': 0.5, mfu: 0.4, 'memory-utilization': 0.9, measured: 25, 'from-bandwidth': 20, 'what-if': []})
  })

  it('refuse a bad value with the message the service gave when it parsed the text', async () => {
    await expect(EstimateFlags.run(['--eta-bw', '1.5'], config)).rejects.toThrow(/^--eta-bw must be at most 1 \(got "1\.5"\)\.$/)
    await expect(EstimateFlags.run(['--bandwidth', 'abc'], config)).rejects.toThrow(/^--bandwidth "abc" is not a number\.$/)
    await expect(EstimateFlags.run(['--overhead-gb', '-1'], config)).rejects.toThrow(/^--overhead-gb must be more than 0 \(got "-1"\)\.$/)
    await expect(EstimateFlags.run(['--measured', '0'], config)).rejects.toThrow(/^--measured must be more than 0 \(got "0"\)\.$/)
    process.exitCode = undefined
  })
})
