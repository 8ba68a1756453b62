import {describe, expect, it} from 'vitest'

import {asBug, bug, CapplanBug, CapplanError, invalidResult} from '../../../src/lib/errors.js'

describe('BUG: "this is a bug in capplan"', () => {
  it('exits 1 and is no CapplanError, so handlers of domain errors (per-file problems, "Not costed") let it through', () => {
    const error = bug('a level without a summary')
    expect(error).not.toBeInstanceOf(CapplanError)
    expect(error.toJSON()).toEqual({
      kind: 'BUG',
      exitCode: 1,
      message: 'capplan hit a bug: a level without a summary',
      suggestion: 'Run again with --debug for the stack, and please report it with the command you ran.',
    })
    expect(error.debugStack).toContain('errors.test.ts')
  })

  it('wraps an unexpected error by its name and message, keeping its stack for --debug', () => {
    let raw: unknown
    try {
      ;([] as number[]).reduce((a, b) => a + b)
    } catch (error) {
      raw = error
    }
    const wrapped = asBug(raw)
    expect(wrapped.message).toBe('capplan hit a bug: TypeError: Reduce of empty array with no initial value')
    expect(wrapped.debugStack).toBe((raw as Error).stack)
    expect(asBug(new Error('plain')).message).toBe('capplan hit a bug: plain')
    expect(asBug('a string').message).toBe('capplan hit a bug: a string')
    expect(asBug(wrapped)).toBe(wrapped)
  })

  it('never shows a credential, in the message or the stack', () => {
    const wrapped = asBug(new RangeError('bad url http://user:sk-secret123@example.com/'))
    expect(wrapped.message).not.toContain('sk-secret123')
    expect(wrapped.debugStack).not.toContain('sk-secret123')
  })

  it('domain errors keep their codes', () => {
    expect(invalidResult('x', 'y').exitCode).toBe(6)
    expect(new CapplanBug('x').exitCode).toBe(1)
  })
})
