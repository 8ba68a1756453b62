import {Config} from '@oclif/core'
import {beforeAll, describe, expect, it} from 'vitest'

import {CapplanCommand} from '../../../../src/cli/base-command.js'
import {reportCostFlags} from '../../../../src/cli/flags/cost.js'
import {compareLoadFlag, parseCompareLoad, parseWhatIfList, reportSanityFlags} from '../../../../src/cli/flags/report.js'

class ReportFlags extends CapplanCommand<typeof ReportFlags> {
  static override flags = {...reportCostFlags, ...reportSanityFlags, load: compareLoadFlag}
  async run() {
    return this.flags
  }
}

let config: Config
beforeAll(async () => {
  config = await Config.load(process.cwd())
})

describe('report and compare parsers', () => {
  it('--what-if is a list of ids, --load a positive number', () => {
    expect(parseWhatIfList('h200, b200,')).toEqual(['h200', 'b200'])
    expect(() => parseWhatIfList(' , ')).toThrow('--what-if is empty.')
    expect(parseCompareLoad('2')).toBe(2)
    expect(() => parseCompareLoad('x')).toThrow('--load "x" is not a positive number.')
    expect(() => parseCompareLoad('0')).toThrow('--load "0" is not a positive number.')
  })
})

describe('report and compare flags through oclif', () => {
  it('arrive in run() as values', async () => {
    const flags = await ReportFlags.run(
      [
        '--slo',
        'ttft=1s,tpot=40ms',
        '--volume',
        '2B',
        '--io-ratio',
        '3:1',
        '--api',
        'gpt-4o,claude-3.5-sonnet',
        '--gpus',
        '4',
        '--bandwidth',
        '20',
        '--what-if',
        'h200',
        '--load',
        '2',
      ],
      config,
    )
    expect(flags).toMatchObject({
      slo: {ttftMs: 1000, tpotMs: 40},
      volume: 2_000_000_000,
      'io-ratio': {input: 3, output: 1},
      api: ['gpt-4o', 'claude-3.5-sonnet'],
      gpus: 4,
      bandwidth: 20,
      'what-if': ['h200'],
      load: 2,
    })
  })
})
