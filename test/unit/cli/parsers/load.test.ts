import {describe, expect, it} from 'vitest'

import {parseDuration, parsePrecision, parseRates} from '../../../../src/cli/parsers/load.js'
import {CapplanError, ExitCode} from '../../../../src/lib/errors.js'

/** Run fn, expect an INVALID_INPUT error (exit code included), return its message and suggestion. */
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

describe('parseRates', () => {
  it('reads comma-separated positive rates in order', () => {
    expect(parseRates('0.5,1,2', '--rate')).toEqual([0.5, 1, 2])
    expect(parseRates(' 4 , .25 ', '--rate')).toEqual([4, 0.25])
  })

  it('names the flag and the bad item', () => {
    expect(() => parseRates('1,fast', '--rate')).toThrow('--rate: "fast" is not a positive number of requests per second.')
    expect(() => parseRates('0', '--rate')).toThrow(/"0" is not a positive number/)
    expect(() => parseRates('1,,2', '--rate')).toThrow(/"" is not a positive number/)
    expect(() => parseRates('', '--rate')).toThrow('--rate is empty.')
  })

  it('refuses with INVALID_INPUT and a valid example', () => {
    expect(invalid(() => parseRates('fast', '--rate'))).toEqual({
      message: '--rate: "fast" is not a positive number of requests per second.',
      suggestion: 'e.g. --rate 0.5,1,2',
    })
    expect(invalid(() => parseRates(' , ', '--rate')).suggestion).toBe('Give one or more request rates per second, e.g. --rate 0.5,1,2')
  })
})

describe('parseDuration', () => {
  it('reads units and sums compound durations', () => {
    expect(parseDuration('60s', '--duration')).toBe(60_000)
    expect(parseDuration('500ms', '--duration')).toBe(500)
    expect(parseDuration('2m', '--duration')).toBe(120_000)
    // 1 m + 30 s = 60000 + 30000
    expect(parseDuration('1m30s', '--duration')).toBe(90_000)
    // 1.5 h = 1.5 x 3600000
    expect(parseDuration('1.5h', '--duration')).toBe(5_400_000)
  })

  it('refuses a bare number, garbage and zero, naming the flag', () => {
    expect(() => parseDuration('60', '--duration')).toThrow(/--duration: cannot read "60"/)
    expect(() => parseDuration('soon', '--duration')).toThrow(CapplanError)
    expect(() => parseDuration('0s', '--duration')).toThrow(/must be longer than 0/)
  })

  it('refuses with INVALID_INPUT naming the flag it was given', () => {
    expect(invalid(() => parseDuration('60', '--startup-timeout'))).toEqual({
      message: '--startup-timeout: cannot read "60" as a duration.',
      suggestion: 'Write a number with a unit (ms, s, m, h), e.g. --startup-timeout 60s or --startup-timeout 2m.',
    })
    expect(invalid(() => parseDuration('0s', '--duration'))).toEqual({message: '--duration: "0s" must be longer than 0.', suggestion: 'e.g. --duration 60s'})
  })
})

describe('parsePrecision', () => {
  it('turns a percentage into a fraction', () => {
    expect(parsePrecision('3%', '--precision')).toBe(0.03)
    expect(parsePrecision(' 0.5 % ', '--precision')).toBe(0.005)
  })

  it('needs the percent sign and a value in (0, 100)', () => {
    expect(() => parsePrecision('3', '--precision')).toThrow(/--precision: cannot read "3" as a percentage/)
    expect(() => parsePrecision('3', '--precision')).toThrow(expect.objectContaining({kind: 'INVALID_INPUT', suggestion: expect.stringMatching(/percent sign/)}))
    expect(() => parsePrecision('0%', '--precision')).toThrow(/out of range/)
    expect(() => parsePrecision('150%', '--precision')).toThrow(/out of range/)
  })

  it('refuses with INVALID_INPUT and a valid example', () => {
    expect(invalid(() => parsePrecision('150%', '--precision'))).toEqual({
      message: '--precision: 150% is out of range.',
      suggestion: 'Use a value between 0% and 100%, e.g. --precision 3%.',
    })
  })
})
