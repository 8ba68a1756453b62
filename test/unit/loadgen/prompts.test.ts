import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {makePromptTokens, tokenIdRange, uniquePromptCapacity} from '../../../src/loadgen/prompts.js'

const pool = tokenIdRange(300, 1300) // 1000 ordinary ids

describe('makePromptTokens', () => {
  it('returns exactly the requested number of tokens, all from the pool', () => {
    fc.assert(
      fc.property(fc.integer({min: 1, max: 600}), fc.integer({min: 0, max: 999}), fc.integer(), (length, index, seed) => {
        const tokens = makePromptTokens(pool, length, seed, index)
        expect(tokens).toHaveLength(length)
        for (const token of tokens) expect(token >= 300 && token < 1300).toBe(true)
      }),
      {numRuns: 200},
    )
  })

  it('gives every request of a run a different first-two-token prefix (no prefix reuse)', () => {
    const prefixes = new Set<string>()
    for (let index = 0; index < 3000; index++) {
      const [first, second] = makePromptTokens(pool, 8, 7, index)
      prefixes.add(`${first},${second}`)
    }
    expect(prefixes.size).toBe(3000)
  })

  it('spells the request index in the first two tokens: index 1234 -> pool[234], pool[1]', () => {
    // 1234 = 1 x 1000 + 234
    const tokens = makePromptTokens(pool, 4, 99, 1234)
    expect(tokens.slice(0, 2)).toEqual([300 + 234, 300 + 1])
  })

  it('is deterministic for (seed, index) and changes with the seed', () => {
    expect(makePromptTokens(pool, 64, 5, 3)).toEqual(makePromptTokens(pool, 64, 5, 3))
    expect(makePromptTokens(pool, 64, 5, 3).slice(2)).not.toEqual(makePromptTokens(pool, 64, 6, 3).slice(2))
  })

  it('draws the tail from the whole pool (not a few ids repeated)', () => {
    const tokens = makePromptTokens(pool, 2000, 1, 0)
    // 1998 draws from 1000 ids: about 1000 x (1 - e^-2) = 865 distinct expected; far above a degenerate generator.
    expect(new Set(tokens.slice(2)).size).toBeGreaterThan(700)
  })

  it('refuses a request index beyond the unique capacity instead of repeating a prompt', () => {
    const small = [10, 11, 12]
    expect(uniquePromptCapacity(3, 1)).toBe(3)
    expect(uniquePromptCapacity(3, 5)).toBe(9)
    expect(() => makePromptTokens(small, 1, 0, 3)).toThrow(/would repeat an earlier prompt/)
    expect(() => makePromptTokens(small, 5, 0, 9)).toThrow(/only 9 unique prompts/)
    expect(makePromptTokens(small, 5, 0, 8).slice(0, 2)).toEqual([12, 12])
  })

  it('rejects a zero length and a pool of fewer than 2 ids', () => {
    expect(() => makePromptTokens(pool, 0, 0, 0)).toThrow(/>= 1/)
    expect(() => makePromptTokens([5], 4, 0, 0)).toThrow(/at least 2/)
  })
})
