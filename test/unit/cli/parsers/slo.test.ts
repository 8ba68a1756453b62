import {describe, expect, it} from 'vitest'

import {parseSlo} from '../../../../src/cli/parsers/slo.js'
import {CapplanError} from '../../../../src/lib/errors.js'

function parseError(text: string): CapplanError {
  try {
    parseSlo(text, '--slo')
  } catch (error) {
    return error as CapplanError
  }
  throw new Error(`parseSlo accepted ${text}`)
}

describe('parseSlo', () => {
  it('reads ms and s into milliseconds', () => {
    expect(parseSlo('ttft=2s,tpot=50ms,e2e=10s', '--slo')).toEqual({ttftMs: 2000, tpotMs: 50, e2eMs: 10_000})
    expect(parseSlo(' TTFT = 0.5s , tpot=12.5ms ', '--slo')).toEqual({ttftMs: 500, tpotMs: 12.5})
  })

  it.each([
    ['', /--slo is empty/],
    ['ttft=2', /"ttft=2" has no unit/],
    ['itl=5ms', /unknown metric "itl"/],
    ['ttft=2s,ttft=3s', /ttft is given twice/],
    ['ttft=0ms', /must be greater than 0/],
    ['ttft:2s', /cannot read "ttft:2s"/],
  ])('refuses %j as INVALID_INPUT naming the flag', (text, message) => {
    const error = parseError(text)
    expect(error).toBeInstanceOf(CapplanError)
    expect(error.kind).toBe('INVALID_INPUT')
    expect(error.exitCode).toBe(3)
    expect(error.message).toMatch(/--slo/)
    expect(error.message).toMatch(message)
  })
})
