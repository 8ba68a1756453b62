import type {LevelSummary, SloSpec} from '../results/schema.js'
import {formatSlo} from '../stats/slo.js'

/**
 * `--sweep`: raise the concurrency 1, 2, 4, 8, ... until total throughput grows by less than `minGain`
 * (5%) from one step to the next, the SLO breaks at p95, every request of a level fails, or the next step
 * would pass `maxConcurrency`. The decision is a pure function of the summaries measured so far
 * (nextSweepStep); runSweep drives it with a measure callback, and bench measures each step with the one
 * level runner (level.ts, closed arrivals) it uses for `--concurrency`.
 *
 * Throughput compared: summary.throughput.totalTokensPerS (input + output tokens per second over the
 * measured window) — with dataset prompts of varying length, prefill work counts too; with fixed lengths it
 * moves exactly like output tok/s.
 */

export interface SweepOptions {
  /** First concurrency (1). */
  start: number
  /** Next concurrency = previous x factor (2). */
  factor: number
  /** Highest concurrency to try (the engine's slot count, or the user's cap). */
  maxConcurrency: number
  /** Stop when throughput grows by less than this fraction between steps (0.05 = 5%). */
  minGain: number
  /** Stop when a level's p95 TTFT / TPOT / E2E breaks a threshold. */
  slo?: SloSpec
}

export const SWEEP_DEFAULTS = {start: 1, factor: 2, maxConcurrency: 64, minGain: 0.05} as const

export interface SweepStep {
  concurrency: number
  summary: LevelSummary
}

export type SweepStopReason = 'plateau' | 'slo' | 'failed' | 'max-concurrency'

export type SweepDecision = {next: number} | {stop: SweepStopReason; message: string}

/** Thresholds of the SLO that a level's p95 breaks, e.g. ["TTFT p95 2500ms > 2000ms"]; empty = it holds. */
export function sloBreaches(summary: LevelSummary, slo: SloSpec): string[] {
  const breaches: string[] = []
  const check = (name: string, p95: number | undefined, limit: number | undefined) => {
    if (limit === undefined) return
    if (p95 === undefined) breaches.push(`${name}: no successful request to measure`)
    else if (p95 > limit) breaches.push(`${name} p95 ${round(p95)}ms > ${limit}ms`)
  }
  check('TTFT', summary.ttftMs?.p95, slo.ttftMs)
  // TPOT needs >= 2 output tokens; a level without TPOT samples has nothing to break (meetsSlo's convention).
  if (slo.tpotMs !== undefined && summary.tpotMs !== null) check('TPOT', summary.tpotMs.p95, slo.tpotMs)
  check('E2E', summary.e2eMs?.p95, slo.e2eMs)
  return breaches
}

/** What to do after the steps measured so far (at least one). */
export function nextSweepStep(steps: readonly SweepStep[], options: SweepOptions): SweepDecision {
  const last = steps.at(-1)
  if (last === undefined) return {next: options.start}
  const {concurrency, summary} = last
  if (summary.requests.completed === 0) {
    return {stop: 'failed', message: `every request at concurrency ${concurrency} failed`}
  }
  if (options.slo !== undefined) {
    const breaches = sloBreaches(summary, options.slo)
    if (breaches.length > 0) {
      return {stop: 'slo', message: `the SLO (${formatSlo(options.slo)}) breaks at concurrency ${concurrency}: ${breaches.join(', ')}`}
    }
  }
  const previous = steps.at(-2)
  if (previous !== undefined) {
    const before = previous.summary.throughput.totalTokensPerS
    const now = summary.throughput.totalTokensPerS
    const gain = before > 0 ? (now - before) / before : Number.POSITIVE_INFINITY
    if (gain < options.minGain) {
      return {
        stop: 'plateau',
        message: `total throughput ${round(now)} tok/s at concurrency ${concurrency} is ${signedPercent(gain)} vs ${round(before)} tok/s at ${previous.concurrency} (< ${signedPercent(options.minGain)})`,
      }
    }
  }
  const next = Math.max(concurrency + 1, Math.round(concurrency * options.factor))
  if (next > options.maxConcurrency) {
    return {stop: 'max-concurrency', message: `the next step (${next}) would pass the highest concurrency ${options.maxConcurrency}`}
  }
  return {next}
}

export interface SweepOutcome {
  steps: SweepStep[]
  stop: SweepStopReason | 'interrupted'
  message: string
  /**
   * The highest-throughput level that still met the SLO (the sweep's answer), or null when none did.
   * On a plateau that is often the step before the last.
   */
  best: SweepStep | null
}

/**
 * Drive a sweep: measure(concurrency) runs one level and returns its summary (null = interrupted: the sweep
 * ends there). Returns every level measured, in order, and why it stopped.
 */
export async function runSweep(measure: (concurrency: number) => Promise<LevelSummary | null>, options: SweepOptions): Promise<SweepOutcome> {
  const steps: SweepStep[] = []
  let decision = nextSweepStep(steps, options)
  while ('next' in decision) {
    const summary = await measure(decision.next)
    if (summary === null) return {steps, stop: 'interrupted', message: `interrupted at concurrency ${decision.next}`, best: bestStep(steps, options.slo)}
    steps.push({concurrency: decision.next, summary})
    decision = nextSweepStep(steps, options)
  }
  return {steps, stop: decision.stop, message: decision.message, best: bestStep(steps, options.slo)}
}

/** Highest total throughput among levels with successes that meet the SLO at p95 (ties: lower concurrency). */
export function bestStep(steps: readonly SweepStep[], slo?: SloSpec): SweepStep | null {
  let best: SweepStep | null = null
  for (const step of steps) {
    if (step.summary.requests.completed === 0) continue
    if (slo !== undefined && sloBreaches(step.summary, slo).length > 0) continue
    if (best === null || step.summary.throughput.totalTokensPerS > best.summary.throughput.totalTokensPerS) best = step
  }
  return best
}

/** The concurrencies a sweep may visit: start, start x factor, ... up to maxConcurrency. */
export function sweepLadder(options: Pick<SweepOptions, 'start' | 'factor' | 'maxConcurrency'>): number[] {
  const ladder: number[] = []
  for (let c = options.start; c <= options.maxConcurrency; c = Math.max(c + 1, Math.round(c * options.factor))) ladder.push(c)
  return ladder
}

function round(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(1)
}

function signedPercent(fraction: number): string {
  return `${fraction >= 0 ? '+' : ''}${(fraction * 100).toFixed(1)}%`
}
