/**
 * capplan's cost model: pure functions, numbers in -> numbers out, no I/O, no rounding (rendering rounds).
 *
 * Units used everywhere in src/cost (names carry them):
 * - tokens are TOTAL tokens (input + output) unless a name says Input/Output;
 * - volumes and capacities are tokens per month; a month is `hoursPerMonth` hours (730 = 365 days / 12,
 *   the default; 720 = 30 days, what seed 000 uses), and a day is 24 hours, so days per month = hours / 24;
 * - prices are US dollars: $/GPU-hour for GPUs, $ per 1M tokens ("PerMTok") for APIs;
 * - throughput is tokens per second of ONE replica (a replica = the GPUs that serve one copy of the model).
 *
 * Each formula is written out in the comment of the function that implements it (and in `capplan plan --help`).
 */

import {formatTokens, formatUsd, type IoRatio} from '../lib/units.js'

export const TOKENS_PER_MILLION = 1_000_000
export const SECONDS_PER_HOUR = 3600
export const HOURS_PER_DAY = 24
export const MONTHS_PER_YEAR = 12

/**
 * ceil() that forgives floating-point noise: 129.6M / 64.8M may come out as 2.0000000000000004, which is 2
 * replicas, not 3. A quotient within 1e-12 (relative; a few thousand ulps) of a whole number is that number.
 */
export function ceilWhole(x: number): number {
  const nearest = Math.round(x)
  if (Math.abs(x - nearest) <= 1e-12 * Math.max(1, Math.abs(x))) return nearest
  return Math.ceil(x)
}

/** a <= b up to floating-point noise (relative 1e-12): prices that are equal on paper compare equal. */
function atMost(a: number, b: number): boolean {
  return a <= b + 1e-12 * Math.max(Math.abs(a), Math.abs(b))
}

/** $ per month for one replica: $/GPU-hour x GPUs per replica x hours per month. */
export function replicaMonthlyCost(usdPerGpuHour: number, gpusPerReplica: number, hoursPerMonth: number): number {
  return usdPerGpuHour * gpusPerReplica * hoursPerMonth
}

/** Tokens one replica serves in a month: tok/s x 3600 x hours x utilization (utilization in (0, 1]). */
export function replicaCapacityTokensPerMonth(tokensPerSecond: number, hoursPerMonth: number, utilization: number): number {
  return tokensPerSecond * SECONDS_PER_HOUR * hoursPerMonth * utilization
}

/** $ per 1M tokens when a replica costing `monthlyCost` serves `tokensPerMonth`. */
export function costPerMillionTokens(monthlyCost: number, tokensPerMonth: number): number {
  return (monthlyCost * TOKENS_PER_MILLION) / tokensPerMonth
}

/** Fractions of all tokens that are input and output at a ratio (3:1 -> 0.75 / 0.25). */
export function ioShares(ratio: IoRatio): {input: number; output: number} {
  const total = ratio.input + ratio.output
  return {input: ratio.input / total, output: ratio.output / total}
}

/**
 * Total tok/s from an output tok/s at an input:output ratio. At r:1 every output token comes with r input
 * tokens, so total = output x (r + 1) / 1; in general total = output x (input + output) / output.
 * Undefined (throws) for a ratio with no output tokens.
 */
export function totalFromOutputTokensPerSecond(outputTokensPerSecond: number, ratio: IoRatio): number {
  if (ratio.output === 0) throw new RangeError('an input:output ratio with 0 output tokens has no output throughput')
  return (outputTokensPerSecond * (ratio.input + ratio.output)) / ratio.output
}

export interface ApiPricePerMTok {
  inputPerMTok: number
  outputPerMTok: number
}

export interface BlendedPrice {
  /** $ per 1M total tokens at the ratio: (r x p_in + p_out) / (r + 1) for r:1. */
  blendedPerMTok: number
  /** The part of blendedPerMTok paid for input tokens (share of input x input price). */
  inputPartPerMTok: number
  /** The part paid for output tokens; inputPart + outputPart = blended. */
  outputPartPerMTok: number
}

/** Blended API price for an input:output ratio; input and output are priced separately, never "averaged". */
export function blendedApiPrice(price: ApiPricePerMTok, ratio: IoRatio): BlendedPrice {
  const total = ratio.input + ratio.output
  const inputPartPerMTok = (ratio.input * price.inputPerMTok) / total
  const outputPartPerMTok = (ratio.output * price.outputPerMTok) / total
  return {
    blendedPerMTok: (ratio.input * price.inputPerMTok + ratio.output * price.outputPerMTok) / total,
    inputPartPerMTok,
    outputPartPerMTok,
  }
}

/** Monthly total-token volume from a daily one: days per month = hours per month / 24 (730 h -> 30.42 days). */
export function monthlyFromDailyVolume(tokensPerDay: number, hoursPerMonth: number): number {
  return (tokensPerDay * hoursPerMonth) / HOURS_PER_DAY
}

/** Whole replicas to serve a monthly volume: ceil(volume / capacity), at least 1 for any positive volume. */
export function replicasForVolume(tokensPerMonth: number, capacityTokensPerMonth: number): number {
  if (tokensPerMonth <= 0) return 0
  return Math.max(1, ceilWhole(tokensPerMonth / capacityTokensPerMonth))
}

/** $ per month an API charges for a monthly total-token volume at a blended price. */
export function apiMonthlyCost(tokensPerMonth: number, blendedPerMTok: number): number {
  return (tokensPerMonth * blendedPerMTok) / TOKENS_PER_MILLION
}

/**
 * Throughput (total tok/s per replica) above which a replica's cost per token is below the API's blended
 * price, i.e. above which a crossover exists: replicaCost / (blended x 1e-6 x 3600 x hours x utilization).
 * Infinity when the API is free.
 */
export function breakEvenTokensPerSecond(replicaCost: number, blendedPerMTok: number, hoursPerMonth: number, utilization: number): number {
  return replicaCost / ((blendedPerMTok / TOKENS_PER_MILLION) * SECONDS_PER_HOUR * hoursPerMonth * utilization)
}

/** A range of monthly volumes (fromExclusive, toInclusive]. */
export interface VolumeWindow {
  fromExclusive: number
  toInclusive: number
}

export interface Crossover {
  /**
   * The volume (tokens/month) above which self-hosting is cheaper than the API at EVERY larger volume
   * (at exactly this volume the two cost the same); null when self-hosting is never cheaper.
   */
  volumeTokensPerMonth: number | null
  /** 'never'; 'first-replica' (crossover inside the first replica); 'after-steps' (later replicas matter). */
  kind: 'never' | 'first-replica' | 'after-steps'
  reason: string
  /** How many volume windows below the crossover are briefly cheaper to self-host (each ends as a replica fills). */
  earlierCheaperWindowCount: number
  /** The first few of those windows (at most 5). */
  earlierCheaperWindows: VolumeWindow[]
}

const MAX_LISTED_WINDOWS = 5

/**
 * Crossover volume on the STEP function of whole replicas.
 *
 * Self-hosting costs S(V) = ceil(V / K) x C for V > 0 (C = replica cost per month, K = replica capacity);
 * the API costs A(V) = p x V. On the n-th step, V in ((n-1)K, nK], S = nC, so self-hosting is cheaper
 * exactly for V > nC/p = n V*, where V* = C/p. That part of the step is non-empty iff n V* < nK, i.e.
 * C/K < p: if a replica's cost per token is not below the API price, no volume is ever cheaper.
 * Otherwise step n has a "dear" stretch ((n-1)K, nV*] iff nV* > (n-1)K, i.e. n (K - V*) < K, i.e.
 * n < K / (K - V*). Those are steps 1..m with m = the largest such n (m >= 1 since K/(K-V*) > 1); from step
 * m+1 on every volume is cheaper. So self-hosting is cheaper for every V > m V* (equal at m V*), and below
 * that only in the windows (n V*, nK] for n = 1..m-1 - each closes when the next replica has to be bought.
 */
export function crossoverVolume(replicaCost: number, capacityTokensPerMonth: number, blendedPerMTok: number): Crossover {
  const selfPerMTok = costPerMillionTokens(replicaCost, capacityTokensPerMonth)
  if (atMost(blendedPerMTok, selfPerMTok)) {
    const relation = atMost(selfPerMTok, blendedPerMTok) ? '=' : '>'
    return {
      volumeTokensPerMonth: null,
      kind: 'never',
      reason:
        `never: self-hosted ${formatUsd(selfPerMTok)}/1M ${relation} API ${formatUsd(blendedPerMTok)}/1M at any volume ` +
        '(each added replica costs more than the API for the tokens it adds)',
      earlierCheaperWindowCount: 0,
      earlierCheaperWindows: [],
    }
  }
  const capacity = capacityTokensPerMonth
  const breakEvenInFirstReplica = (replicaCost * TOKENS_PER_MILLION) / blendedPerMTok // V*
  const stepRatio = capacity / (capacity - breakEvenInFirstReplica) // > 1
  const nearest = Math.round(stepRatio)
  const isWhole = Math.abs(stepRatio - nearest) <= 1e-9 * stepRatio
  // m = largest whole n with n < stepRatio.
  const dearSteps = isWhole ? nearest - 1 : Math.floor(stepRatio)
  const crossover = dearSteps * breakEvenInFirstReplica
  const windowCount = dearSteps - 1
  const windows: VolumeWindow[] = []
  for (let n = 1; n <= Math.min(windowCount, MAX_LISTED_WINDOWS); n++) {
    windows.push({fromExclusive: n * breakEvenInFirstReplica, toInclusive: n * capacity})
  }
  const perMTok = `self-hosted ${formatUsd(selfPerMTok)}/1M < API ${formatUsd(blendedPerMTok)}/1M`
  if (dearSteps === 1) {
    return {
      volumeTokensPerMonth: crossover,
      kind: 'first-replica',
      reason:
        `cheaper to self-host above ${formatTokens(crossover)} tokens/month (${perMTok}; one replica, ` +
        `${formatUsd(replicaCost)}/month, pays for itself at ${formatTokens(crossover)} of its ${formatTokens(capacity)} capacity)`,
      earlierCheaperWindowCount: 0,
      earlierCheaperWindows: [],
    }
  }
  const first = windows[0]
  const example = first === undefined ? '' : `, e.g. ${formatTokens(first.fromExclusive)}-${formatTokens(first.toInclusive)}`
  return {
    volumeTokensPerMonth: crossover,
    kind: 'after-steps',
    reason:
      `cheaper to self-host at every volume above ${formatTokens(crossover)} tokens/month (${dearSteps} replicas; ${perMTok}); ` +
      `below that each newly needed replica makes it dearer again, so it is cheaper only in ${windowCount} ` +
      `window${windowCount === 1 ? '' : 's'} just before a replica fills${example}`,
    earlierCheaperWindowCount: windowCount,
    earlierCheaperWindows: windows,
  }
}

/** Energy for owned GPUs. */
export interface EnergyInput {
  /** Average power draw per GPU in watts (default in `capplan plan`: the GPU profile's TDP, an upper bound). */
  powerWattsPerGpu: number
  /** Where the power figure came from (flag, profile TDP). */
  powerSource: string
  /** Power usage effectiveness of the facility: total facility power / IT power (1.0 = GPU power only). */
  pue: number
  usdPerKwh: number
}

export interface EnergyCost {
  kwhPerReplicaMonth: number
  /** $ per month for one replica: W x GPUs x hours x PUE / 1000 x $/kWh. */
  monthlyCostPerReplica: number
}

export function energyCost(energy: EnergyInput, gpusPerReplica: number, hoursPerMonth: number): EnergyCost {
  const kwhPerReplicaMonth = (energy.powerWattsPerGpu * gpusPerReplica * hoursPerMonth * energy.pue) / 1000
  return {kwhPerReplicaMonth, monthlyCostPerReplica: kwhPerReplicaMonth * energy.usdPerKwh}
}
