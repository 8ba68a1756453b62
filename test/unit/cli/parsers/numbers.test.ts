import {describe, expect, it} from 'vitest'

import {CapplanError, ExitCode} from '../../../../src/lib/errors.js'
import {parseIoRatio, parsePositiveNumber, parseTokenCount, parseWholeNumber} from '../../../../src/cli/parsers/numbers.js'

/** Run fn, expect an INVALID_INPUT error, return its message + suggestion for further assertions. */
function invalid(fn: () => unknown): {message: string; suggestion: string} {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(CapplanError)
    const e = error as CapplanError
    expect(e.kind).toBe('INVALID_INPUT')
    expect(e.exitCode).toBe(ExitCode.invalidInput)
    return {message: e.message, suggestion: e.suggestion}
  }
  throw new Error('expected an INVALID_INPUT error, nothing was thrown')
}

describe('parseTokenCount', () => {
  it.each([
    ['100M', 100_000_000],
    ['1.5B', 1_500_000_000],
    ['250k', 250_000],
    ['250K', 250_000],
    ['2e9', 2_000_000_000],
    ['2E9', 2_000_000_000],
    ['100000000', 100_000_000],
    ['100_000_000', 100_000_000],
    ['1,000,000', 1_000_000],
    ['1.1M', 1_100_000], // a float multiply would give 1100000.0000000002
    ['0.5k', 500],
    ['.5M', 500_000],
    ['3G', 3_000_000_000],
    ['2T', 2_000_000_000_000],
    [' 64.8M ', 64_800_000],
    ['1.5e3k', 1_500_000],
    ['36.5B', 36_500_000_000],
  ])('%s -> %d', (text, expected) => {
    expect(parseTokenCount(text, 'volume')).toBe(expected)
  })

  it('rejects "10X" naming the flag and showing a valid value', () => {
    const {message, suggestion} = invalid(() => parseTokenCount('10X', 'volume'))
    expect(message).toContain('--volume "10X"')
    expect(suggestion).toContain('--volume 100M')
  })

  it.each(['', 'M', 'abc', '1.2.3M', '100 MB', '1e', '--5', '1,,000', '_100'])('rejects %j as not a count', (text) => {
    expect(invalid(() => parseTokenCount(text, 'daily-volume')).message).toContain('--daily-volume')
  })

  it.each(['0', '0M', '-5M', '-100', '0e9'])('rejects non-positive %s', (text) => {
    expect(invalid(() => parseTokenCount(text, 'volume')).message).toContain('must be more than 0')
  })

  it('rejects fractions of a token', () => {
    expect(invalid(() => parseTokenCount('1.5', 'volume')).message).toContain('not a whole number of tokens')
    expect(invalid(() => parseTokenCount('1.2345k', 'volume')).message).toContain('not a whole number')
  })

  it('rejects counts beyond exact integer range', () => {
    expect(invalid(() => parseTokenCount('1e20', 'volume')).message).toContain('too large')
  })
})

describe('parseIoRatio', () => {
  it.each([
    ['3:1', {input: 3, output: 1}],
    ['1:1', {input: 1, output: 1}],
    [' 2.5 : 1 ', {input: 2.5, output: 1}],
    ['1024:512', {input: 1024, output: 512}],
    ['0:1', {input: 0, output: 1}],
    ['1:0', {input: 1, output: 0}],
  ])('%s', (text, expected) => {
    expect(parseIoRatio(text, 'io-ratio')).toEqual(expected)
  })

  it.each(['3-1', '3', '3:1:1', 'a:b', '-3:1', '3/1', ''])('rejects %j naming the flag with an example', (text) => {
    const {message, suggestion} = invalid(() => parseIoRatio(text, 'io-ratio'))
    expect(message).toContain('--io-ratio')
    expect(suggestion).toContain('--io-ratio 3:1')
  })

  it('rejects 0:0', () => {
    expect(invalid(() => parseIoRatio('0:0', 'io-ratio')).message).toContain('no tokens')
  })
})

describe('parsePositiveNumber', () => {
  it.each([
    ['2.5', 2.5],
    ['25', 25],
    ['1e3', 1000],
    ['.5', 0.5],
  ])('%s -> %d', (text, expected) => {
    expect(parsePositiveNumber(text, 'gpu-price', '2.5')).toBe(expected)
  })

  it.each(['0', '-2.5', '-0'])('rejects %s as not positive', (text) => {
    const {message, suggestion} = invalid(() => parsePositiveNumber(text, 'gpu-price', '2.5'))
    expect(message).toBe(`--gpu-price must be more than 0 (got "${text}").`)
    expect(suggestion).toContain('--gpu-price 2.5')
  })

  it.each(['abc', '2.5$', 'NaN', 'Infinity', ''])('rejects %j as not a number', (text) => {
    expect(invalid(() => parsePositiveNumber(text, 'throughput', '25')).message).toContain('is not a number')
  })
})

describe('parseWholeNumber', () => {
  it('reads whole numbers within the range', () => {
    expect(parseWholeNumber('4', 'requests', {min: 1, max: 10})).toBe(4)
    expect(parseWholeNumber(' 0 ', 'gpus', {min: 0})).toBe(0)
    expect(parseWholeNumber('-3', 'offset')).toBe(-3)
  })
  it('refuses fractions, words, and values outside the range as INVALID_INPUT naming the flag and range', () => {
    expect(() => parseWholeNumber('1.5', 'requests', {min: 1})).toThrow(/--requests "1.5" is not a whole number/)
    expect(() => parseWholeNumber('abc', 'requests', {min: 1})).toThrow(/not a whole number/)
    expect(() => parseWholeNumber('0', 'requests', {min: 1, max: 10})).toThrow('--requests must be a whole number from 1 to 10 (got "0").')
    expect(() => parseWholeNumber('11', 'requests', {min: 1, max: 10})).toThrow(/from 1 to 10/)
    expect(() => parseWholeNumber('-1', 'jobs', {min: 1})).toThrow('--jobs must be a whole number of at least 1 (got "-1").')
    expect(() => parseWholeNumber('9007199254740993', 'seed')).toThrow(/not a whole number/)
    expect(() => parseWholeNumber('0', 'requests', {min: 1})).toThrow(CapplanError)
    expect(ExitCode.invalidInput).toBe(3)
  })
})
