import {describe, expect, it} from 'vitest'

import {formatTokens, formatUsd} from '../../../src/lib/units.js'

describe('formatTokens', () => {
  it.each([
    [64_800_000, '64.8M'],
    [57_024_000, '57.02M'],
    [77_760_000, '77.76M'],
    [240_000_000, '240M'],
    [1_500_000_000, '1.5B'],
    [999_999_999, '1B'],
    [36_500_000_000, '36.5B'],
    [250_000, '250k'],
    [950, '950'],
    [0, '0'],
    [2e12, '2T'],
  ])('%d -> %s', (n, expected) => {
    expect(formatTokens(n)).toBe(expected)
  })
})

describe('formatUsd', () => {
  it.each([
    [1800, '$1,800.00'],
    [1800 / 64.8, '$27.78'],
    [547_500, '$547,500.00'],
    [6.25, '$6.25'],
    [0, '$0.00'],
    [-5, '-$5.00'],
    [0.0034722, '$0.00347'],
  ])('%d -> %s', (n, expected) => {
    expect(formatUsd(n)).toBe(expected)
  })
})
