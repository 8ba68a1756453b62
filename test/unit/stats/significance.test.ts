import {describe, expect, it} from 'vitest'

import {welchTTest} from '../../../src/stats/significance.js'

describe('welchTTest', () => {
  it('[1..5] vs [2,4,6,8,10]: t, df and p by hand (scipy ttest_ind equal_var=False agrees)', () => {
    // means 3 and 6; sample variances 2.5 and 10; squared standard errors 2.5/5 = 0.5 and 10/5 = 2
    // t = (3 - 6) / sqrt(0.5 + 2) = -1.897366596; df = 2.5^2 / (0.5^2/4 + 2^2/4) = 6.25 / 1.0625 = 5.882352941
    // scipy.stats.ttest_ind(..., equal_var=False): t = -1.8973665961010275, p = 0.10753119493062728
    const result = welchTTest([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])!
    expect(result.t).toBeCloseTo(-1.8973665961010275, 12)
    expect(result.df).toBeCloseTo(5.882352941176471, 12)
    expect(result.pValue).toBeCloseTo(0.10753119493062728, 9)
    expect(result.difference).toBe(3)
    expect(result.significant).toBe(false) // 0.1075 >= 0.05
    expect(result.differenceLow).toBeLessThan(0) // the 95% interval of the difference spans 0
    expect(result.differenceHigh).toBeGreaterThan(3)
  })

  it('clearly separated samples are significant', () => {
    const result = welchTTest([10, 11, 10, 12, 11], [20, 21, 19, 22, 20])!
    expect(result.significant).toBe(true)
    expect(result.pValue).toBeLessThan(1e-5)
    expect(result.differenceLow).toBeGreaterThan(0)
  })

  it('degenerate and too-small samples', () => {
    expect(welchTTest([5, 5], [5, 5])).toMatchObject({pValue: 1, significant: false})
    expect(welchTTest([5, 5], [6, 6])).toMatchObject({pValue: 0, significant: true, difference: 1})
    expect(welchTTest([1], [1, 2])).toBeNull()
  })
})
