#!/usr/bin/env node
// Issue 14 §3: how good the deployment search's ESTIMATED numbers are, and how fast the search is.
//   1. accuracy: leave-one-out over the calibration set (profiles/calibration): each real published
//      measurement predicted from the prior's line refitted on the others (calibration.ts), the error
//      |predicted / measured - 1| (median, p90) and the share inside the printed range (an 80% conformal
//      prediction interval, made from the others only: nested), overall and by source / model / precision /
//      vendor / engine, with the ranges' median width (high / low); leave-one-SOURCE-out, the range as it was
//      (the 10th-90th percentile of the line's own residuals) and the previous constant prior beside it.
//      Targets from the issue: >= 80% inside, median error <= 25%. The numbers are printed as they come.
//   2. sanity: every calibration row through the physics check `report` runs; "impossible" must be 0.
//   3. speed: `capplan plan --model` over every GPU profile x counts 1-8 x three quants x two engines x four
//      pricings, as a fresh process, next to `capplan --version` (both interleaved, medians); target < 1 s.
//
//   node dist-perf/perf/planner-bench.js [--rounds 5] [--json]   (`npm run bench:planner`; also part of `npm run bench`)

import {execFileSync} from 'node:child_process'
import {parseArgs} from 'node:util'

import {calibrationPoints, leaveOneOut, pointSanity, PRIOR_COVERAGE, summarize, type LeaveOneOut} from '../src/planner/calibration.js'
import {loadProfiles} from '../src/profiles/load.js'
import {searchFromFlags} from '../src/services/search/search.js'
import {CAPPLAN_BIN, isMainModule} from './paths.js'

export const ACCURACY_TARGETS = {insideShare: 0.8, medianError: 0.25} as const
export const SEARCH_TARGET_MS = 1000

export const FULL_SEARCH_ARGS = ['plan', '--model', 'llama-3.1-70b', '--daily-volume', '500M', '--max-gpus', '8', '--pricing', 'on-demand,spot,reserved,owned', '--json']

export interface PlannerBench {
  /** Leave-one-out (the issue's target): each row predicted from a line refitted without it. */
  accuracy: LeaveOneOut
  /** Leave-one-source-out: without every row of its calibration profile (its sibling rows of the same table). */
  bySource: LeaveOneOut
  /** The previous prior (one constant efficiency), leave-one-out, for comparison. */
  constant: LeaveOneOut
  /** The same line with the range as it was (10th-90th percentile of its own residuals), leave-one-out and -source-out. */
  inSample: LeaveOneOut
  inSampleBySource: LeaveOneOut
  sanity: {rows: number; verdicts: Record<string, number>}
  speed: {
    rounds: number
    searchMs: number[]
    versionMs: number[]
    searchMedianMs: number
    versionMedianMs: number
    /** The same search in this process (profiles loaded, results none): the search's own time. */
    inProcessMedianMs: number
    candidates: number
    deployments: number
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function timed(args: string[]): {ms: number; stdout: string} {
  const start = performance.now()
  const stdout = execFileSync('node', [CAPPLAN_BIN, ...args], {encoding: 'utf8', maxBuffer: 256 * 1024 * 1024})
  return {ms: performance.now() - start, stdout}
}

export async function runPlannerBench(options: {rounds: number}): Promise<PlannerBench> {
  const store = await loadProfiles()
  const {points} = calibrationPoints(store)
  const accuracy = leaveOneOut(points)
  const bySource = leaveOneOut(points, {holdOut: 'source'})
  const constant = leaveOneOut(points, {model: 'constant'})
  const inSample = leaveOneOut(points, {range: 'in-sample'})
  const inSampleBySource = leaveOneOut(points, {holdOut: 'source', range: 'in-sample'})
  const verdicts: Record<string, number> = {}
  for (const point of points) {
    const verdict = pointSanity(point).verdict
    verdicts[verdict] = (verdicts[verdict] ?? 0) + 1
  }
  // one discarded warm-up of each, then interleaved rounds (the order alternates)
  timed(['--version'])
  const first = JSON.parse(timed(FULL_SEARCH_ARGS).stdout) as {space: {candidates: number; deployments: number}}
  const searchMs: number[] = []
  const versionMs: number[] = []
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? (['search', 'version'] as const) : (['version', 'search'] as const)
    for (const which of order) (which === 'search' ? searchMs : versionMs).push(timed(which === 'search' ? FULL_SEARCH_ARGS : ['--version']).ms)
  }
  const inProcessMs: number[] = []
  for (let round = 0; round <= options.rounds; round++) {
    const start = performance.now()
    await searchFromFlags(
      {model: 'llama-3.1-70b', 'daily-volume': 500e6, 'max-gpus': 8, pricing: ['on-demand', 'spot', 'reserved', 'owned']},
      {profilesDir: undefined, capplanVersion: 'bench'},
    )
    if (round > 0) inProcessMs.push(performance.now() - start) // round 0 warms the modules
  }
  return {
    accuracy,
    bySource,
    constant,
    inSample,
    inSampleBySource,
    sanity: {rows: points.length, verdicts},
    speed: {
      rounds: options.rounds,
      searchMs,
      versionMs,
      searchMedianMs: median(searchMs),
      versionMedianMs: median(versionMs),
      inProcessMedianMs: median(inProcessMs),
      candidates: first.space.candidates,
      deployments: first.space.deployments,
    },
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`

/** Median / p90 / inside of a leave-one-out's rows grouped by a key. */
function byGroup(loo: LeaveOneOut, key: (id: string) => string): string[] {
  const groups = new Map<string, LeaveOneOut['rows']>()
  for (const row of loo.rows) groups.set(key(row.id), [...(groups.get(key(row.id)) ?? []), row])
  return [...groups.entries()].map(([group, rows]) => {
    const s = summarize(rows)
    return `    ${group.padEnd(36)} n ${String(s.n).padStart(3)}  median ${pct(s.medianError).padStart(6)}  p90 ${pct(s.p90Error).padStart(7)}  inside ${pct(s.insideShare).padStart(6)}  width x${s.medianWidth.toFixed(2)}`
  })
}

const line = (name: string, loo: LeaveOneOut) =>
  `  ${name}: median |pred/meas - 1| ${pct(loo.medianError)}, p90 ${pct(loo.p90Error)}, inside the range ${loo.rows.filter((r) => r.inside).length}/${loo.n} = ${pct(loo.insideShare)}, median width x${loo.medianWidth.toFixed(2)} (high / low)`

export function formatPlannerBench(bench: PlannerBench, points: {id: string; model: string; format: string; vendor: string; engine: string}[] = []): string[] {
  const {accuracy, sanity, speed} = bench
  const lines = [
    `planner: leave-one-out over ${accuracy.n} calibration measurements (predicted = the prior's line refitted on the others, applied to the row's serving ceiling)`,
    '  row                                                           measured  predicted  range              error  inside',
  ]
  for (const row of accuracy.rows) {
    lines.push(
      `  ${row.id.padEnd(60)} ${row.measured.toFixed(0).padStart(8)} ${row.predicted.toFixed(0).padStart(10)}  ${`${row.low.toFixed(0)}-${row.high.toFixed(0)}`.padEnd(16)} ${pct(row.error).padStart(6)}  ${row.inside ? 'yes' : 'no'}`,
    )
  }
  const inside = accuracy.insideShare >= ACCURACY_TARGETS.insideShare
  const median = accuracy.medianError <= ACCURACY_TARGETS.medianError
  const info = new Map(points.map((p) => [p.id, p]))
  const of = (f: (p: (typeof points)[number]) => string) => (id: string) => (info.has(id) ? f(info.get(id)!) : id.split('/')[0]!)
  lines.push('  by source:', ...byGroup(accuracy, (id) => id.split('/')[0]!))
  if (points.length > 0) {
    lines.push(
      '  by model:',
      ...byGroup(
        accuracy,
        of((p) => p.model),
      ),
    )
    lines.push(
      '  by precision:',
      ...byGroup(
        accuracy,
        of((p) => p.format),
      ),
    )
    lines.push(
      '  by vendor:',
      ...byGroup(
        accuracy,
        of((p) => p.vendor),
      ),
    )
    lines.push(
      '  by engine:',
      ...byGroup(
        accuracy,
        of((p) => p.engine),
      ),
    )
  }
  lines.push(
    line('leave-one-SOURCE-out (not the target)', bench.bySource),
    line("the range as it was (10th-90th percentile of the line's own residuals), leave-one-out", bench.inSample),
    line('the range as it was, leave-one-SOURCE-out', bench.inSampleBySource),
    line('the previous constant-efficiency prior, leave-one-out (for comparison)', bench.constant),
  )
  lines.push(
    `  leave-one-out (the issue's target): median |pred/meas - 1| ${pct(accuracy.medianError)} (target <= ${pct(ACCURACY_TARGETS.medianError)}: ${median ? 'met' : 'MISSED'}), p90 ${pct(accuracy.p90Error)}, ` +
      `inside the range ${accuracy.rows.filter((r) => r.inside).length}/${accuracy.n} = ${pct(accuracy.insideShare)} (target >= ${pct(ACCURACY_TARGETS.insideShare)}: ${inside ? 'met' : 'MISSED'}; ` +
      `the range is an ${Math.round(PRIOR_COVERAGE * 100)}% conformal prediction interval made without the row), median width x${accuracy.medianWidth.toFixed(2)} (high / low)`,
    `planner: sanity of the ${sanity.rows} calibration rows: ${Object.entries(sanity.verdicts)
      .map(([verdict, n]) => `${n} ${verdict}`)
      .join(', ')} (impossible must be 0: ${(sanity.verdicts.impossible ?? 0) === 0 ? 'met' : 'MISSED'})`,
    `planner: full search (${speed.deployments} deployments, ${speed.candidates} priced candidates) as a process: median ${speed.searchMedianMs.toFixed(0)} ms ` +
      `(target < ${SEARCH_TARGET_MS} ms: ${speed.searchMedianMs < SEARCH_TARGET_MS ? 'met' : 'MISSED'}); capplan --version median ${speed.versionMedianMs.toFixed(0)} ms; ` +
      `in-process (profiles loaded + search) median ${speed.inProcessMedianMs.toFixed(0)} ms (${speed.rounds} interleaved rounds)`,
  )
  return lines
}

if (isMainModule(import.meta.url)) {
  const {values} = parseArgs({options: {rounds: {type: 'string', default: '5'}, json: {type: 'boolean', default: false}}})
  const bench = await runPlannerBench({rounds: Number(values.rounds)})
  const {points} = calibrationPoints(await loadProfiles())
  const info = points.map((p) => ({id: p.id, model: p.model.id, format: p.format.label, vendor: p.vendor, engine: p.engineFamily}))
  if (values.json) process.stdout.write(`${JSON.stringify({planner: bench}, null, 2)}\n`)
  else console.log(formatPlannerBench(bench, info).join('\n'))
}
