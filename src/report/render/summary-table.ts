import Table from 'cli-table3'

import type {Distribution, LevelSummary} from '../../results/schema.js'

/** One measured level as the summary shows it. */
export interface SummaryLevel {
  concurrency: number
  status: 'complete' | 'failed' | 'partial'
  summary: LevelSummary
}

/** One run (one model x quant x engine): its label, e.g. "qwen2.5-0.5b int4 (Q4_0)", and its levels. */
export interface SummaryRun {
  label: string
  levels: SummaryLevel[]
}

/** Milliseconds with precision that fits their size: 0.84, 12.3, 1234. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a'
  if (ms < 10) return ms.toFixed(2)
  if (ms < 100) return ms.toFixed(1)
  return ms.toFixed(0)
}

/** Rates with one decimal (two below 10): 63.2, 7.45. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return 'n/a'
  return perSecond < 10 ? perSecond.toFixed(2) : perSecond.toFixed(1)
}

/** "p50 / p90 / p99" of a distribution, "-" when it has no samples. */
export function percentileCell(distribution: Distribution | null, format: (value: number) => string = formatMs): string {
  if (distribution === null) return '-'
  return `${format(distribution.p50)} / ${format(distribution.p90)} / ${format(distribution.p99)}`
}

const seconds = (ms: number) => (ms / 1000).toFixed(2)

/**
 * The per-level table `capplan bench` prints: throughput (output and total tok/s, req/s) and the latency
 * percentiles (request-weighted TTFT, TPOT, E2E; token-weighted ITL). Several runs (e.g. --quant
 * int4,fp16) share one table so they compare line by line.
 */
export function renderBenchSummary(runs: readonly SummaryRun[]): string {
  const several = runs.length > 1
  const head = [
    ...(several ? ['Run'] : []),
    'Conc.',
    'Requests ok/failed',
    'Output tok/s',
    'Total tok/s',
    'Req/s',
    'TTFT ms p50/p90/p99',
    'TPOT ms p50/p90/p99',
    'ITL ms p50/p90/p99',
    'E2E s p50/p90/p99',
  ]
  const table = new Table({head, style: {head: [], border: []}})
  for (const run of runs) {
    for (const level of run.levels) {
      const {summary} = level
      const requests = `${summary.requests.completed}/${summary.requests.failed}${level.status === 'complete' ? '' : ` (${level.status})`}`
      table.push([
        ...(several ? [run.label] : []),
        String(level.concurrency),
        requests,
        formatRate(summary.throughput.outputTokensPerS),
        formatRate(summary.throughput.totalTokensPerS),
        formatRate(summary.throughput.requestsPerS),
        percentileCell(summary.ttftMs),
        percentileCell(summary.tpotMs),
        percentileCell(summary.itlMsPerToken),
        percentileCell(summary.e2eMs, seconds),
      ])
    }
  }
  const title = several ? 'Measured (closed loop: N requests in flight)' : `${runs[0]?.label ?? ''}: measured (closed loop: N requests in flight)`
  return `${title}\n${table.toString()}\nTTFT, TPOT, E2E: one sample per request; ITL: per token. Throughput = tokens of successful requests / the level's window.`
}
