import {describe, expect, it} from 'vitest'

import {parseLengthDist, parsePositiveNumber} from '../../../../src/cli/parsers/workload.js'

describe('--input-dist / --output-dist', () => {
  it('reads every form', () => {
    expect(parseLengthDist('fixed:256', '--input-dist')).toEqual({kind: 'fixed', tokens: 256})
    expect(parseLengthDist('uniform:128,1024', '--input-dist')).toEqual({kind: 'uniform', min: 128, max: 1024})
    expect(parseLengthDist('normal:512,128,16,2048', '--input-dist')).toEqual({kind: 'normal', mean: 512, stdev: 128, min: 16, max: 2048})
    // Without bounds: 1 .. mean + 4 stdev = 512 + 512
    expect(parseLengthDist('lognormal:512,128', '--input-dist')).toEqual({kind: 'lognormal', mean: 512, stdev: 128, min: 1, max: 1024})
    expect(parseLengthDist('hist:lengths.csv', '--output-dist')).toEqual({kind: 'histogram-file', file: 'lengths.csv'})
  })

  it('names the flag and what is wrong', () => {
    expect(() => parseLengthDist('gauss:5,1', '--input-dist')).toThrow('--input-dist: cannot read "gauss:5,1" as a length distribution.')
    expect(() => parseLengthDist('uniform:9,3', '--input-dist')).toThrow('--input-dist uniform:9,3: MIN 9 is above MAX 3.')
    expect(() => parseLengthDist('uniform:9', '--output-dist')).toThrow('--output-dist uniform:9: uniform takes two lengths')
    expect(() => parseLengthDist('fixed:0', '--input-dist')).toThrow('N must be a whole number of tokens >= 1, got 0')
    expect(() => parseLengthDist('normal:x,1', '--input-dist')).toThrow('"x" is not a non-negative number')
    expect(() => parseLengthDist('lognormal:100,0', '--input-dist')).toThrow('a lognormal needs STDEV above 0')
    expect(() => parsePositiveNumber('0', '--burstiness', '0.5')).toThrow('--burstiness: "0" is not a positive number.')
    expect(parsePositiveNumber('0.25', '--burstiness', '0.5')).toBe(0.25)
  })
})
