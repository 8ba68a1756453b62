/** `capplan compare` as a terminal table (one column per file) plus the verdicts. Pure. */

import Table from 'cli-table3'

import {formatUsd} from '../../lib/units.js'
import type {CompareResult, SampleSummary} from '../build/compare.js'
import {formatMs, formatRate} from './summary-table.js'

const times = (ratio: number | null) => (ratio === null ? '' : ` (${Number(ratio.toPrecision(3))}x)`)
const samplesCell = (summary: SampleSummary | null) =>
  summary === null ? '-' : `${formatMs(summary.p50)} / ${formatMs(summary.p95)} / ${formatMs(summary.p99)} (n=${summary.count})`

export function renderCompareTable(result: CompareResult): string {
  const head = ['', ...result.entries.map((entry, index) => `${index === 0 ? 'A (reference)' : String.fromCharCode(65 + index)}: ${entry.file}`)]
  const table = new Table({head, style: {head: [], border: []}, wordWrap: true})
  table.push(['Run', ...result.entries.map((entry) => entry.label)])
  table.push([
    'Operating point',
    ...result.entries.map((entry) =>
      entry.load === null ? `${entry.operatingPoint}` : `${entry.operatingPoint}, ${entry.load.kind} ${Number(entry.load.value.toFixed(2))}`,
    ),
  ])
  table.push([
    'Output tok/s at the SLO',
    ...result.entries.map((entry) => (entry.outputTokensPerS === null ? 'none' : `${formatRate(entry.outputTokensPerS)}${times(entry.throughputRatio)}`)),
  ])
  table.push([
    '$/1M tokens',
    ...result.entries.map((entry) => (entry.costPerMillionTokens === null ? 'not costed' : `${formatUsd(entry.costPerMillionTokens)}${times(entry.costRatio)}`)),
  ])
  for (const metric of result.metrics) {
    table.push([`${metric.metric.toUpperCase()} ms p50/p95/p99`, ...metric.samples.map(samplesCell)])
    table.push([`${metric.metric.toUpperCase()} vs A`, '-', ...metric.vsFirst.map((vs) => `${times(vs.ratioOfMeans).trim()} ${vs.verdict}`.trim())])
  }
  const lines = [table.toString(), `Latencies: ${result.comparedLoadNote}. Significance: ${result.test}.`]
  for (const warning of result.warnings) lines.push(`Warning: ${warning}`)
  lines.push(...result.verdicts)
  return lines.join('\n')
}
