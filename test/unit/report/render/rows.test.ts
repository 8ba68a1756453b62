import {describe, expect, it} from 'vitest'

import {planCost} from '../../../../src/cost/plan.js'
import type {CompareResult} from '../../../../src/report/build/compare.js'
import {benchSummaryTable, compareTable, costTable, rowTexts} from '../../../../src/report/render/rows.js'
import type {LevelSummary} from '../../../../src/results/schema.js'

// 25 tok/s on 2 GPUs at $2.5/h, 720 h: $3,600/month per replica, 64.8M tokens/month; 100M tokens -> 2 replicas.
const plan = planCost({
  totalTokensPerSecond: 25,
  usdPerGpuHour: 2.5,
  gpusPerReplica: 2,
  hoursPerMonth: 720,
  monthlyVolumeTokens: 100_000_000,
  apis: [{id: 'gpt-4o', name: 'GPT-4o', variant: 'seed-000', inputPerMTok: 2.5, outputPerMTok: 10, source: 's', date: 'd'}],
})

describe('costTable', () => {
  it('gives each cell the value CSV writes and the text the tables show', () => {
    const table = costTable(plan)
    expect(table.columns.map((c) => c.key)).toEqual(['option', 'quality', 'pricesInOut', 'blended', 'monthly', 'crossover'])
    expect(rowTexts(table)[0]).toEqual(['Self-hosted (2 replicas x 2 GPUs)', '', '-', '$55.56', '$7,200.00', '-'])
    const [api] = table.apiRows
    expect(api!.option).toEqual({value: 'gpt-4o@seed-000', text: 'GPT-4o @seed-000'})
    expect(api!.pricesInOut.text).toBe('$2.50 / $10.00')
    expect(api!.blended).toEqual({value: 6.25, text: '$6.25'})
    expect(api!.monthly).toEqual({value: 625, text: '$625.00'})
    expect(api!.annual).toEqual({value: 7500, text: '$7,500.00'})
    expect(api!.crossover).toEqual({value: 'never', text: 'never'})
    // break-even: 3600 / (6.25e-6 x 3600 x 720) = 222.22 tok/s
    expect(api!.breakEven.text).toBe('222.22')
  })

  it('groups the APIs: same model hosted, then closed with the quality gap, each group by $/1M; titles are rows of their own', () => {
    const gap = {benchmark: 'gpqa-diamond', harness: 'h', selfScore: 49, apiScore: 65, difference: 16, text: 'GPQA-D 49.0 vs 65.0', source: 's'}
    const grouped = planCost({
      totalTokensPerSecond: 25,
      usdPerGpuHour: 2.5,
      monthlyVolumeTokens: 100_000_000,
      apis: [
        {id: 'closed-b', name: 'B', variant: null, inputPerMTok: 3, outputPerMTok: 15, source: 's', date: 'd', group: 'closed', qualityGap: gap},
        {id: 'twin-2', name: 'T2', variant: null, inputPerMTok: 0.9, outputPerMTok: 0.9, source: 's', date: 'd', group: 'same-model', precision: 'fp8'},
        {id: 'twin-1', name: 'T1', variant: null, inputPerMTok: 0.2, outputPerMTok: 0.6, source: 's', date: 'd', group: 'same-model', precision: 'bf16'},
      ],
      comparison: {model: 'm', twinModel: 'm', twinNote: null, benchmark: 'gpqa-diamond', apis: [], quantLoss: null, quantLossNote: null, notes: []},
    })
    const rows = rowTexts(costTable(grouped)).map((row) => row.slice(0, 2))
    expect(rows).toEqual([
      ['Self-hosted (2 replicas x 1 GPU)', ''],
      ['== Same model, hosted: m', ''],
      ['T1', 'bf16'],
      ['T2', 'fp8'],
      ['== Closed APIs, gap on GPQA-D', ''],
      ['B', 'GPQA-D 49.0 vs 65.0'],
    ])
    // CSV's rows are the APIs only, in the table's order
    expect(costTable(grouped).apiRows.map((row) => row.option.value)).toEqual(['twin-1', 'twin-2', 'closed-b'])
  })
})

const summary = {
  requests: {completed: 4, failed: 0},
  throughput: {outputTokensPerS: 63.24, inputTokensPerS: 126.5, totalTokensPerS: 189.74, requestsPerS: 0.4},
  ttftMs: null,
  tpotMs: null,
  itlMsPerToken: null,
  e2eMs: null,
} as unknown as LevelSummary

describe('benchSummaryTable', () => {
  it('labels each level by its load (the first form, concurrency alone, is a closed loop)', () => {
    const table = benchSummaryTable([
      {label: 'a', levels: [{concurrency: 2, status: 'complete', summary}]},
      {label: 'b', levels: [{load: {kind: 'rate', value: 1.5}, status: 'failed', summary}]},
    ])
    expect(rowTexts(table).map((row) => row.slice(0, 3))).toEqual([
      ['a', 'c=2', '4/0'],
      ['b', '1.5 req/s', '4/0 (failed)'],
    ])
  })
})

describe('compareTable', () => {
  it('says a rate operating point in req/s, like the report', () => {
    const entry = {
      file: 'a.json',
      label: 'A',
      importedFrom: null,
      operatingPoint: 'interpolated',
      load: {kind: 'rate', value: 0.5974},
      outputTokensPerS: 19.5,
      costPerMillionTokens: null,
      throughputRatio: 1,
      costRatio: null,
      comparedLevel: 0,
    } as const
    const result: CompareResult = {entries: [entry], comparedLoad: null, comparedLoadNote: '', metrics: [], test: '', warnings: [], verdicts: []}
    const rows = rowTexts(compareTable(result))
    expect(rows[1]).toEqual(['Operating point', 'interpolated, 0.597 req/s'])
    expect(rows[2]).toEqual(['Output tok/s at the SLO', '19.5 (1x)'])
    expect(rows[3]).toEqual(['$/1M tokens', 'not costed'])
  })
})
