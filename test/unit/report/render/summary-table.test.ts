import {describe, expect, it} from 'vitest'

import {formatMs, formatRate, percentilesText} from '../../../../src/report/format.js'
import {renderBenchSummary} from '../../../../src/report/render/summary-table.js'
import type {Distribution, LevelSummary} from '../../../../src/results/schema.js'

const dist = (p50: number, p90: number, p99: number): Distribution => ({
  count: 4,
  mean: p50,
  stdev: 0,
  min: p50,
  p50,
  p90,
  p95: p90,
  p99,
  max: p99,
})

const summary = (overrides: Partial<LevelSummary> = {}): LevelSummary => ({
  requests: {completed: 4, failed: 0},
  durationS: 10,
  throughput: {outputTokensPerS: 63.24, inputTokensPerS: 126.5, totalTokensPerS: 189.74, requestsPerS: 0.4},
  ttftMs: dist(512.4, 640.2, 700.9),
  tpotMs: dist(15.84, 16.2, 17.05),
  itlMsPerToken: dist(15.8, 16.44, 21.3),
  itlMsPerChunk: dist(15.8, 16.44, 21.3),
  e2eMs: dist(4552, 4700, 4810),
  perUserTokensPerS: 63.1,
  goodput: null,
  errors: {},
  tokenMismatches: 0,
  ...overrides,
})

describe('bench summary table', () => {
  it('formats numbers by size', () => {
    expect(formatMs(0.8449)).toBe('0.84')
    expect(formatMs(15.84)).toBe('15.8')
    expect(formatMs(512.4)).toBe('512')
    expect(formatRate(7.454)).toBe('7.45')
    expect(formatRate(189.74)).toBe('189.7')
    expect(percentilesText(null, ['p50', 'p90', 'p99'])).toBe('-')
    expect(percentilesText(dist(15.84, 16.2, 17.05), ['p50', 'p90', 'p99'])).toBe('15.8 / 16.2 / 17.1')
  })

  it('prints one row per level with throughput and p50/p90/p99 latencies', () => {
    const text = renderBenchSummary([{label: 'qwen2.5-0.5b int4 (Q4_0)', levels: [{concurrency: 1, status: 'complete', summary: summary()}]}])
    expect(text.split('\n')[0]).toBe('qwen2.5-0.5b int4 (Q4_0): measured (closed loop: N requests in flight)')
    const row = text.split('\n').find((line) => line.startsWith('│ c=1 '))!
    const cells = row
      .split('│')
      .slice(1, -1)
      .map((cell) => cell.trim())
    // E2E in seconds: 4552 ms -> 4.55
    expect(cells).toEqual(['c=1', '4/0', '63.2', '189.7', '0.40', '512 / 640 / 701', '15.8 / 16.2 / 17.1', '15.8 / 16.4 / 21.3', '4.55 / 4.70 / 4.81'])
  })

  it('adds a Run column when runs are compared, and marks levels that did not complete', () => {
    const text = renderBenchSummary([
      {label: 'int4', levels: [{concurrency: 2, status: 'complete', summary: summary()}]},
      {label: 'fp16', levels: [{concurrency: 2, status: 'partial', summary: summary({requests: {completed: 1, failed: 2}, ttftMs: null})}]},
    ])
    const rows = text.split('\n').filter((line) => /^│ (int4|fp16) /.test(line))
    expect(rows).toHaveLength(2)
    const fp16 = rows[1]!
      .split('│')
      .slice(1, -1)
      .map((cell) => cell.trim())
    expect(fp16.slice(0, 3)).toEqual(['fp16', 'c=2', '1/2 (partial)'])
    expect(fp16[6]).toBe('-')
  })

  it('labels open-loop levels as rates, not concurrency, and says so in the title', () => {
    const text = renderBenchSummary([{label: 'int4', levels: [{load: {kind: 'rate', value: 0.5}, status: 'complete', summary: summary()}]}])
    expect(text.split('\n')[0]).toBe('int4: measured (open loop: Poisson arrivals at N req/s)')
    expect(text).toMatch(/^│ Load +│/m)
    expect(text).toMatch(/^│ 0\.5 req\/s │ 4\/0 /m)
  })
})
