/**
 * Every label and number format the renderers print (terminal, Markdown, CSV, HTML, plan, bench summary,
 * compare): one rounding rule per kind of number, one wording per label. Pure and dependency-free, so the
 * build stages may use it for their prose too.
 */

import type {PlanApiResult} from '../cost/plan.js'
import {formatTokens, formatUsd} from '../lib/units.js'
import type {Distribution, LoadKind, SloSpec} from '../results/schema.js'
import {formatSlo} from '../stats/slo.js'

export {formatTokens, formatUsd}

/** A level's load: closed-loop concurrency or open-loop request rate. */
export interface Load {
  /** LoadKind; a plain string where a build type keeps it as one. */
  kind: LoadKind | (string & {})
  value: number
}

/** At most `decimals` decimals, trailing zeros dropped: (1.125, 2) -> "1.13", (2, 2) -> "2". */
export const formatDecimals = (value: number, decimals: number) => String(Number(value.toFixed(decimals)))

/** `digits` significant digits, trailing zeros dropped: (1.23456, 3) -> "1.23", (1200, 3) -> "1200". */
export const formatSignificant = (value: number, digits: number) => String(Number(value.toPrecision(digits)))

/** Milliseconds with precision that fits their size: 0.84, 12.3, 1234. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a'
  if (ms < 10) return ms.toFixed(2)
  if (ms < 100) return ms.toFixed(1)
  return ms.toFixed(0)
}

/** Milliseconds as seconds with 2 decimals: 4552 -> "4.55" (the bench summary's E2E column). */
export const formatSeconds = (ms: number) => (ms / 1000).toFixed(2)

/** Measured rates (tok/s, req/s) with one decimal, two below 10: 63.2, 7.45, 18.0. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return 'n/a'
  return perSecond < 10 ? perSecond.toFixed(2) : perSecond.toFixed(1)
}

const planRate = new Intl.NumberFormat('en-US', {maximumFractionDigits: 2})

/**
 * Throughputs the cost rests on (a plan's capacity, break-even tok/s) with 2 decimals at most and thousands
 * separators: "111.11", "25", "11,448.52" (a break-even threshold reads exactly, and `plan` echoes what was given).
 */
export function formatPlanRate(tokensPerSecond: number): string {
  if (!Number.isFinite(tokensPerSecond)) return 'n/a'
  return planRate.format(tokensPerSecond)
}

/** A ratio of two measurements: 1.5 -> "1.5x" (3 significant digits). */
export const formatRatio = (ratio: number) => `${formatSignificant(ratio, 3)}x`

/** A fraction as a percentage: (0.4817, 0) -> "48%". */
export const formatPercent = (fraction: number, decimals = 0) => `${(fraction * 100).toFixed(decimals)}%`

/** "1 replica", "2 replicas". */
export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

/**
 * A load's number: concurrency with 2 decimals at most (an interpolated point lies between two levels), a
 * rate with 3 (rates such as 0.125 req/s are given that finely).
 */
export const loadValue = (load: Load) => formatDecimals(load.value, load.kind === 'concurrency' ? 2 : 3)

/** A load in a table cell: "c=4", "0.5 req/s". */
export const loadCell = (load: Load) => (load.kind === 'concurrency' ? `c=${loadValue(load)}` : `${loadValue(load)} req/s`)

/** A load in a sentence: "concurrency 4", "0.5 req/s" (the wording of the operating point's explanation). */
export const loadText = (load: Load) => (load.kind === 'concurrency' ? `concurrency ${loadValue(load)}` : `${loadValue(load)} req/s`)

/** The SLO's targets, "none" without any: "ttft<=2000ms tpot<=50ms". */
export const sloText = (slo: SloSpec) => formatSlo(slo) || 'none'

/** "p50 / p95 / p99" of a distribution in the given percentiles, "-" when it has no samples. */
export function percentilesText<P extends 'p50' | 'p90' | 'p95' | 'p99'>(
  distribution: Pick<Distribution, P> | null,
  percentiles: readonly P[],
  format: (value: number) => string = formatMs,
): string {
  if (distribution === null) return '-'
  return percentiles.map((p) => format(distribution[p])).join(' / ')
}

/** An API as people read it: "GPT-4o", "GPT-4o @seed-000". */
export const apiName = (api: Pick<PlanApiResult, 'name' | 'variant'>) => (api.variant === null ? api.name : `${api.name} @${api.variant}`)

/** An API as --api takes it: "gpt-4o", "gpt-4o@seed-000". */
export const apiId = (api: Pick<PlanApiResult, 'id' | 'variant'>) => (api.variant === null ? api.id : `${api.id}@${api.variant}`)

/** Where self-hosting starts to win against an API: "> 52.56M/month" or "never". */
export const crossoverText = (volumeTokensPerMonth: number | null) => (volumeTokensPerMonth === null ? 'never' : `> ${formatTokens(volumeTokensPerMonth)}/month`)
