/** The per-level summary `capplan bench` prints after its runs (terminal). */

import {boxTable} from './box.js'
import {benchSummaryMode, benchSummaryTable, type SummaryRun} from './rows.js'

// build/result-report.ts and the tests import the number formats from here; they live in format.ts.
export {formatMs, formatRate} from '../format.js'
export type {SummaryLevel, SummaryRun} from './rows.js'

/** One table for all runs (several runs, e.g. --quant int4,fp16, compare line by line), under a title that says what the loads mean. */
export function renderBenchSummary(runs: readonly SummaryRun[]): string {
  const mode = benchSummaryMode(runs)
  const title = runs.length > 1 ? `Measured (${mode})` : `${runs[0]?.label ?? ''}: measured (${mode})`
  return `${title}\n${boxTable(benchSummaryTable(runs))}\nTTFT, TPOT, E2E: one sample per request; ITL: per token. Throughput = tokens of successful requests / the level's window.`
}
