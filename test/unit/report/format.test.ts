import {describe, expect, it} from 'vitest'

import {apiId, apiName, crossoverText, formatMs, formatPlanRate, formatRate, formatRatio, loadCell, loadText, percentilesText, sloText} from '../../../src/report/format.js'

describe('render formats', () => {
  it('labels loads one way: c=N or N req/s in cells, "concurrency N" or "N req/s" in sentences', () => {
    expect(loadCell({kind: 'concurrency', value: 4})).toBe('c=4')
    // an interpolated concurrency keeps 2 decimals, a rate 3 (rates such as 0.125 req/s are given that finely)
    expect(loadCell({kind: 'concurrency', value: 1.1289})).toBe('c=1.13')
    expect(loadCell({kind: 'rate', value: 0.5974})).toBe('0.597 req/s')
    expect(loadText({kind: 'concurrency', value: 1.1289})).toBe('concurrency 1.13')
    expect(loadText({kind: 'rate', value: 0.5})).toBe('0.5 req/s')
  })

  it('rounds measured rates by size and cost-plan rates to 2 decimals with separators', () => {
    expect(formatRate(18)).toBe('18.0')
    expect(formatRate(7.454)).toBe('7.45')
    expect(formatRate(Number.NaN)).toBe('n/a')
    expect(formatPlanRate(11_448.5219)).toBe('11,448.52')
    expect(formatPlanRate(25)).toBe('25')
    expect(formatMs(1234.4)).toBe('1234')
  })

  it('formats percentiles, ratios, SLOs, API names and crossovers', () => {
    expect(percentilesText({p50: 1, p95: 2.5, p99: 12.34}, ['p50', 'p95', 'p99'])).toBe('1.00 / 2.50 / 12.3')
    expect(percentilesText(null, ['p50'])).toBe('-')
    expect(formatRatio(1.23456)).toBe('1.23x')
    expect(sloText({})).toBe('none')
    expect(sloText({ttftMs: 2000, tpotMs: 50})).toBe('ttft<=2000ms tpot<=50ms')
    expect(apiName({name: 'GPT-4o', variant: 'seed-000'})).toBe('GPT-4o @seed-000')
    expect(apiId({id: 'gpt-4o', variant: 'seed-000'})).toBe('gpt-4o@seed-000')
    expect(crossoverText(52_560_000)).toBe('> 52.56M/month')
    expect(crossoverText(null)).toBe('never')
  })
})
