import {describe, expect, it} from 'vitest'

import {costChoicesFrom, costFlagParsers, parseGpusOverride} from '../../../../src/cli/flags/cost.js'
import {parseCostFlags} from '../../../../src/cli/parsers/cost.js'

describe('cost flag parsers', () => {
  it('are parseCostFlags one flag at a time: the same values and the same messages', () => {
    expect(costFlagParsers.volume('1.1M')).toBe(1_100_000)
    expect(costFlagParsers['io-ratio']('3:1')).toEqual({input: 3, output: 1})
    expect(costFlagParsers.api('gpt-4o, gpt-4o')).toEqual(['gpt-4o'])
    expect(() => costFlagParsers['hours-per-month']('800')).toThrow('--hours-per-month 800 is more than a month has (744 h = 31 days).')
    expect(() => costFlagParsers.utilization('1.5')).toThrow('--utilization must be at most 1 (got "1.5").')
    expect(() => costFlagParsers.pue('0.9')).toThrow('--pue must be at least 1 (got "0.9").')
    expect(() => costFlagParsers['gpu-price']('abc')).toThrow('--gpu-price "abc" is not a number.')
  })

  it("report's --gpus keeps its own message", () => {
    expect(parseGpusOverride('4')).toBe(4)
    expect(parseGpusOverride('0x4')).toBe(4) // Number() as before
    expect(() => parseGpusOverride('0')).toThrow('--gpus must be a whole number >= 1 (got "0").')
  })
})

describe('costChoicesFrom', () => {
  it('gives what parseCostFlags gives for the same text, in the same key order', () => {
    const text = {
      throughput: '25',
      gpus: '2',
      'gpu-price': '2.5',
      'io-ratio': '3:1',
      'hours-per-month': '720',
      utilization: '0.6',
      'peak-factor': '2',
      'kwh-price': '0.1',
      'power-watts': '700',
      pue: '1.3',
      volume: '100M',
      api: 'gpt-4o',
    }
    const values = Object.fromEntries(Object.entries(text).map(([name, value]) => [name, costFlagParsers[name as keyof typeof costFlagParsers](value)]))
    expect(JSON.stringify(costChoicesFrom(values))).toBe(JSON.stringify(parseCostFlags(text)))
  })

  it('refuses the pairs that exclude each other, as parseCostFlags does', () => {
    expect(() => costChoicesFrom({throughput: 25, 'output-throughput': 10})).toThrow('--throughput and --output-throughput cannot be used together.')
    expect(() => costChoicesFrom({'gpu-price': 2.5, gpu: 'h100-sxm'})).toThrow('--gpu-price and --gpu cannot be used together.')
    expect(() => costChoicesFrom({volume: 1, 'daily-volume': 1})).toThrow('--volume and --daily-volume cannot be used together.')
  })
})
