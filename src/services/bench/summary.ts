/**
 * What `capplan bench` answers when the runs are done: the --json payload (every level, and the cost of each
 * run at its SLO operating point, found exactly as `capplan report` finds it) and its text rendering.
 */

import {relative} from 'node:path'

import {planCost, type PlanResult} from '../../cost/plan.js'
import {prefillShare} from '../../cost/io-split.js'
import {todayUtc} from '../../lib/clock.js'
import {planInputFor} from '../../cost/plan-input.js'
import {type ProfileStore} from '../../profiles/store.js'
import type {QuantLevel} from '../../profiles/schema.js'
import {buildResultReport} from '../../report/build/result-report.js'
import {formatRate, loadText, sloText} from '../../report/format.js'
import {verificationLines} from '../../report/render/lines.js'
import {renderPlanTable} from '../../report/render/plan-table.js'
import {renderBenchSummary, type SummaryRun} from '../../report/render/summary-table.js'
import type {LevelRecord, LevelSummary, ResultFile, SloSpec} from '../../results/schema.js'
import type {ResultVerification} from '../../results/verify.js'

/**
 * The level with the highest total tok/s among levels with successful requests, or null. `excluded` (index in
 * the file -> why): levels never to cost, e.g. those results/verify.ts or the roofline excluded.
 */
export function bestLevel(result: ResultFile, excluded: ReadonlySet<number> = new Set()): {concurrency: number; load: LevelRecord['load']; summary: LevelSummary} | null {
  let best: {concurrency: number; load: LevelRecord['load']; summary: LevelSummary} | null = null
  for (const [index, level] of result.levels.entries()) {
    if (level.summary.requests.completed === 0 || excluded.has(index)) continue
    if (best === null || level.summary.throughput.totalTokensPerS > best.summary.throughput.totalTokensPerS) {
      best = {concurrency: level.load.value, load: level.load, summary: level.summary}
    }
  }
  return best
}

export interface BenchJsonRun {
  file: string
  model: string
  quant: QuantLevel
  format: string
  status: ResultFile['status']
  /** concurrency = load.value (kept for readers of the first format; a rate level holds its req/s there). */
  levels: {load: {kind: 'concurrency' | 'rate'; value: number}; concurrency: number; status: string; summary: LevelSummary}[]
  /**
   * Each level's summary checked against its request records, as `capplan report` checks it (results/verify.ts):
   * a level excluded there (token mismatch, summary disagreeing with its records) is not costed below.
   */
  verification: ResultVerification
}

export interface BenchJsonCost {
  model: string
  quant: QuantLevel
  /**
   * slo-operating-point: the highest throughput meeting the SLO, as `capplan report` finds it (measured or
   * interpolated); highest-throughput: no level met the SLO, so the highest measured throughput is costed.
   */
  basis: 'slo-operating-point' | 'highest-throughput'
  slo: SloSpec
  /** Why this point, in words. */
  note: string
  load: {kind: 'concurrency' | 'rate'; value: number}
  /** load.value (kept for readers of the first format). */
  concurrency: number
  totalTokensPerSecond: number
  gpuProfile: string
  plan: PlanResult
}

export interface BenchJson {
  results: BenchJsonRun[]
  cost: BenchJsonCost[]
}

export function benchPayload(
  runs: readonly {result: ResultFile; path: string}[],
  store: ProfileStore,
  slo: SloSpec | undefined,
  gpuFlag: string | undefined,
  warn: (message: string) => void,
): BenchJson {
  const gpuProfileOf = (result: ResultFile) => gpuFlag ?? result.gpuProfile ?? 'cpu'
  // Capacity at the latency target, exactly as `capplan report` finds it (the stored summaries checked first).
  const reports = runs.map(({result, path: file}) =>
    buildResultReport(file, result, store, {
      ...(slo === undefined ? {} : {slo}),
      plan: {gpu: gpuProfileOf(result), today: todayUtc()},
    }),
  )
  const results: BenchJsonRun[] = runs.map(({result, path: file}, index) => ({
    file,
    model: result.model.profile,
    quant: result.model.quant,
    format: result.model.format,
    status: result.status,
    levels: result.levels.map((level) => ({load: level.load, concurrency: level.load.value, status: level.status, summary: level.summary})),
    verification: reports[index]!.verification,
  }))
  const cost: BenchJsonCost[] = []
  for (const [index, {result}] of runs.entries()) {
    const gpuProfileId = gpuProfileOf(result)
    if (gpuFlag === undefined && result.gpuProfile === null && result.engine.gpuCount > 0) {
      warn(`no GPU profile matches ${result.host.gpus[0]?.model ?? 'this GPU'}; the cost below uses the cpu profile's price. Pass --gpu ID to cost it on a GPU profile.`)
    }
    const report = reports[index]!
    const point = report.operatingPoint
    if (report.plan !== null && point.load !== null && point.totalTokensPerS !== null) {
      cost.push({
        model: result.model.profile,
        quant: result.model.quant,
        basis: 'slo-operating-point',
        slo: report.slo,
        note: point.explanation,
        load: point.load,
        concurrency: point.load.value,
        totalTokensPerSecond: point.totalTokensPerS,
        gpuProfile: report.gpuProfile ?? gpuProfileId,
        plan: report.plan,
      })
      continue
    }
    // No level met the SLO (a slow CPU): still show money, clearly labeled as the highest throughput, from the
    // levels report would cost (never one excluded by the check of its summary or by physics).
    const excluded = new Set(report.operatingPoint.checks.filter((check) => check.reason.startsWith('excluded: ')).map((check) => check.index))
    for (const level of report.verification.levels) if (level.verdict === 'excluded') excluded.add(level.index)
    const best = bestLevel(result, excluded)
    if (best === null) continue
    const bestRecord = result.levels.find((level) => level.summary === best.summary)
    const share = bestRecord === undefined ? null : prefillShare(bestRecord.requests)
    const plan = planCost({
      ...planInputFor(
        {
          totalTokensPerSecond: best.summary.throughput.totalTokensPerS,
          gpu: gpuProfileId,
          gpusPerReplica: Math.max(1, result.engine.gpuCount),
          ioRatio: {input: result.workload.inputTokens, output: result.workload.outputTokens},
          ...(store.has('model', result.model.profile) ? {model: result.model.profile, quant: result.model.quant, format: result.model.format} : {}),
          today: todayUtc(),
        },
        store,
      ),
      ...(share === null ? {} : {prefillShare: share}),
    })
    cost.push({
      model: result.model.profile,
      quant: result.model.quant,
      basis: 'highest-throughput',
      slo: report.slo,
      note: `no level met the SLO (${sloText(report.slo)}); costed at the highest measured throughput instead`,
      load: best.load,
      concurrency: best.load.value,
      totalTokensPerSecond: best.summary.throughput.totalTokensPerS,
      gpuProfile: gpuProfileId,
      plan,
    })
  }
  return {results, cost}
}

export function renderBenchOutcome(runs: readonly {result: ResultFile; path: string}[], payload: BenchJson): string {
  const out: string[] = []
  if (runs.length === 0) return ''
  const summaryRuns: SummaryRun[] = runs.map(({result}, index) => ({
    label: `${result.model.profile} ${result.model.quant} (${result.model.format})`,
    levels: result.levels.map((level, levelIndex) => ({
      load: level.load,
      status: level.status,
      summary: level.summary,
      ...(payload.results[index]?.verification.levels[levelIndex]?.verdict === 'excluded' ? {flag: 'EXCLUDED'} : {}),
    })),
  }))
  out.push(renderBenchSummary(summaryRuns))
  // What the check of each level's records found (token mismatches, a load never reached): said here, not only in report.
  for (const run of payload.results) {
    const lines = verificationLines(run).filter((line) => !line.startsWith('Verified: '))
    if (lines.length > 0) out.push(...lines)
    const costed = payload.cost.some((cost) => cost.model === run.model && cost.quant === run.quant)
    if (!costed && run.verification.levels.some((level) => level.verdict === 'excluded')) {
      out.push(`${run.model} ${run.quant}: not costed (no level can be: see above).`)
    }
  }
  for (const cost of payload.cost) {
    const where = `${loadText(cost.load)}, ${formatRate(cost.totalTokensPerSecond)} total tok/s`
    if (cost.basis === 'slo-operating-point') {
      out.push(`\nCost of ${cost.model} ${cost.quant} at its operating point for the SLO ${sloText(cost.slo)} (${where}) on the ${cost.gpuProfile} profile:`)
      out.push(cost.note)
    } else {
      out.push(`\n${cost.model} ${cost.quant}: ${cost.note}.`)
      out.push(`Cost of ${cost.model} ${cost.quant} at its best level (${where}) on the ${cost.gpuProfile} profile:`)
    }
    out.push(renderPlanTable(cost.plan))
  }
  if (payload.cost.length > 0) {
    const files = runs.map((run) => relative(process.cwd(), run.path) || run.path).join(' ')
    out.push(`\nDetails (SLO checks per level, other prices): capplan report ${files}`)
  }
  return out.join('\n')
}

/** bench's exit code from its runs' statuses: 9 (PARTIAL_RUN) when any level failed. */
export {benchExitCode} from '../../loadgen/run.js'
