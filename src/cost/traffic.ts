/**
 * Traffic over the day (or the week) instead of "24 x 7 at full speed": an hourly profile of the volume, the
 * replicas each hour needs at the SLO capacity, and what a fixed fleet (sized for the peak) and an autoscaled
 * fleet (replicas per hour) cost. Pure: values in, values out; units as in ./model.ts (total tokens, $).
 *
 * The plain rule, nothing hidden (headroom is explicit, default 0):
 *   replicas(h)     = ceil(volume(h) x (1 + headroom) / (SLO tok/s x 3600))
 *   autoscaled(h)   = max(minReplicas, replicas(h) rounded up to a multiple of the scale step)
 *   fixed cost      = max_h replicas(h) x replica $/h x hours per month
 *   autoscaled cost = sum_h autoscaled(h) x replica $/h x (hours per month / hours in the profile)
 *   utilization     = tokens served / (replica-hours paid x SLO tok/s x 3600); idle cost = cost x (1 - utilization)
 */

import {invalidInput} from '../lib/errors.js'
import {formatTokens, formatUsd} from '../lib/units.js'
import {ceilWhole, HOURS_PER_DAY, SECONDS_PER_HOUR, TOKENS_PER_MILLION} from './model.js'

export const HOURS_PER_WEEK = 168

/** The built-in shapes, their default ratios, and the hour their peak is at. */
export const trafficShapes = ['flat', 'business-hours', 'diurnal'] as const
export type TrafficShapeName = (typeof trafficShapes)[number]

/** business-hours: 09:00-17:00 (8 hours) at the peak rate, the other 16 hours at peak / ratio. */
export const BUSINESS_HOURS = {start: 9, end: 17, defaultRatio: 10} as const
/** diurnal: a cosine over the day peaking at 14:00, trough at 02:00; ratio = peak / trough. */
export const DIURNAL = {peakHour: 14, defaultRatio: 3} as const

/** What `--traffic` says, as a value. */
export type TrafficSpec = {kind: 'shape'; shape: TrafficShapeName; ratio: number | null} | {kind: 'file'; path: string}

/** A traffic profile: per-hour weights (relative, from a shape) or per-hour token volumes (absolute, from a file). */
export interface TrafficProfile {
  /** "diurnal:3", "business-hours:10", "flat", or the file's name. */
  label: string
  /** 24 (a day) or 168 (a week, Monday 00:00 first). */
  hours: number
  /** Relative weights (any scale) when `absolute` is false; total tokens in each hour when true. */
  values: number[]
  absolute: boolean
  /** How the shape is defined, in words (for the report). */
  description: string
}

/** The 24 hourly weights of a built-in shape. */
export function shapeProfile(shape: TrafficShapeName, ratio: number | null): TrafficProfile {
  const hours = Array.from({length: HOURS_PER_DAY}, (_, h) => h)
  switch (shape) {
    case 'flat': {
      if (ratio !== null && ratio !== 1) throw invalidInput(`--traffic flat takes no ratio (got flat:${ratio}).`, 'Use --traffic flat, or diurnal:3 for a peak 3x the trough.')
      return {label: 'flat', hours: HOURS_PER_DAY, values: hours.map(() => 1), absolute: false, description: 'the same volume every hour'}
    }
    case 'business-hours': {
      const r = ratio ?? BUSINESS_HOURS.defaultRatio
      return {
        label: `business-hours:${r}`,
        hours: HOURS_PER_DAY,
        values: hours.map((h) => (h >= BUSINESS_HOURS.start && h < BUSINESS_HOURS.end ? r : 1)),
        absolute: false,
        description: `${String(BUSINESS_HOURS.start).padStart(2, '0')}:00-${BUSINESS_HOURS.end}:00 at ${r}x the rate of the other 16 hours`,
      }
    }
    case 'diurnal': {
      const r = ratio ?? DIURNAL.defaultRatio
      // 1 + a cos(...) with (1 + a) / (1 - a) = r: the peak hour is exactly r times the trough hour (12 h later).
      const a = (r - 1) / (r + 1)
      return {
        label: `diurnal:${r}`,
        hours: HOURS_PER_DAY,
        values: hours.map((h) => 1 + a * Math.cos((2 * Math.PI * (h - DIURNAL.peakHour)) / HOURS_PER_DAY)),
        absolute: false,
        description: `a cosine over the day, peak at ${DIURNAL.peakHour}:00 = ${r}x the trough at ${(DIURNAL.peakHour + 12) % 24}:00`.replace(' 2:00', ' 02:00'),
      }
    }
  }
}

/**
 * Hourly volumes from the text of a CSV or JSON file: one number per line (hour 0 first), `hour,tokens` with
 * a header line, or a JSON array of numbers. 24 or 168 values, each a token count >= 0, not all zero.
 */
export function parseTrafficText(text: string, source: string): TrafficProfile {
  const trimmed = text.trim()
  let values: number[]
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let data: unknown
    try {
      data = JSON.parse(trimmed)
    } catch (error) {
      throw invalidInput(`${source} is not valid JSON: ${(error as Error).message}.`, 'Give a JSON array of 24 or 168 hourly token counts, e.g. [1000000, 800000, ...].')
    }
    const array = Array.isArray(data) ? data : (data as Record<string, unknown>)['hours']
    if (!Array.isArray(array))
      throw invalidInput(`${source}: expected a JSON array of hourly token counts (or {"hours": [...]}).`, 'e.g. [1000000, 800000, ...] with 24 or 168 numbers.')
    values = array.map((value, index) => {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw invalidInput(`${source}: hour ${index} is ${JSON.stringify(value)}, not a token count >= 0.`, 'Each entry is the total tokens of one hour.')
      }
      return value
    })
  } else {
    const lines = trimmed.split(/\r?\n/)
    const rows: {line: number; cells: string[]}[] = lines.map((line, index) => ({line: index + 1, cells: line.split(',').map((cell) => cell.trim())}))
    const header = rows[0]?.cells.some((cell) => cell !== '' && !Number.isFinite(Number(cell))) === true ? rows.shift() : undefined
    const width = header?.cells.length ?? rows[0]?.cells.length ?? 1
    const column =
      width === 1
        ? 0
        : header === undefined
          ? 1
          : Math.max(
              0,
              header.cells.findIndex((cell) => /tokens?/i.test(cell)),
            )
    values = []
    for (const row of rows) {
      if (row.cells.length === 1 && row.cells[0] === '') continue
      if (row.cells.length !== width) {
        throw invalidInput(`${source} line ${row.line}: ${row.cells.length} columns, the first row has ${width}.`, 'One number per line, or hour,tokens on every line.')
      }
      const value = Number(row.cells[column])
      if (row.cells[column] === '' || !Number.isFinite(value) || value < 0) {
        throw invalidInput(`${source} line ${row.line}: "${row.cells[column]}" is not a token count >= 0.`, 'Each line gives the total tokens of one hour, e.g. 1200000.')
      }
      if (width > 1 && header !== undefined && column !== 0) {
        const hour = Number(row.cells[0])
        if (hour !== values.length)
          throw invalidInput(`${source} line ${row.line}: hour ${row.cells[0]}, expected ${values.length} (hours in order from 0).`, 'List every hour once, in order.')
      }
      values.push(value)
    }
  }
  if (values.length !== HOURS_PER_DAY && values.length !== HOURS_PER_WEEK) {
    throw invalidInput(
      `${source} has ${values.length} hourly values; a traffic profile has 24 (a day) or 168 (a week).`,
      'One line per hour of a day (24) or of a week (168, Monday 00:00 first).',
    )
  }
  if (values.every((value) => value === 0)) throw invalidInput(`${source}: every hour is 0 tokens.`, 'Give the tokens each hour carries.')
  return {
    label: source,
    hours: values.length,
    values,
    absolute: true,
    description: `${values.length} hourly volumes from ${source}`,
  }
}

export interface FleetOptions {
  /** Total tok/s one replica sustains at the SLO (the operating point). */
  replicaTokensPerSecond: number
  /** $ per hour of one replica (all its GPUs). */
  replicaUsdPerHour: number
  hoursPerMonth: number
  /** Extra capacity kept free: replicas(h) = ceil(volume(h) x (1 + headroom) / capacity); default 0. */
  headroom?: number
  /** Autoscaled fleet: never fewer replicas than this (default 0 = scale to zero in empty hours). */
  minReplicas?: number
  /** Autoscaled fleet: replicas added and removed in steps of this many (default 1). */
  scaleStep?: number
}

export interface HourPlan {
  hour: number
  tokens: number
  /** ceil(tokens x (1 + headroom) / (tok/s x 3600)): what the hour needs. */
  replicasNeeded: number
  /** What the autoscaled fleet runs this hour (min and step applied). */
  autoscaledReplicas: number
  /** $ of the autoscaled fleet this hour. */
  autoscaledUsd: number
}

export interface FleetCost {
  /** Replicas paid for (fixed: the peak all month; autoscaled: replica-hours per month / hours per month, an average). */
  replicas: number
  replicaHoursPerMonth: number
  monthlyCost: number
  /** tokens served / capacity paid for, 0..1. */
  utilization: number
  /** The part of monthlyCost paying for capacity no token used: monthlyCost x (1 - utilization). */
  idleMonthlyCost: number
  /** $ per 1M tokens actually served. */
  costPerMillionTokens: number
}

export interface TrafficPlan {
  profile: {label: string; hours: number; description: string; absolute: boolean}
  /** Total tokens per month the profile carries (scaled to the volume, or summed from a file). */
  tokensPerMonth: number
  tokensPerDay: number
  peakHour: number
  peakTokensPerHour: number
  averageTokensPerHour: number
  /** peak / average hour. */
  peakToAverage: number
  /** Tokens one replica serves in an hour at the SLO throughput (before headroom). */
  replicaTokensPerHour: number
  headroom: number
  minReplicas: number
  scaleStep: number
  hours: HourPlan[]
  fixed: FleetCost
  autoscaled: FleetCost
  /** fixed - autoscaled: what autoscaling saves a month. */
  autoscalingSavesMonthly: number
}

function requireFleetOptions(options: FleetOptions): {headroom: number; minReplicas: number; scaleStep: number} {
  const headroom = options.headroom ?? 0
  const minReplicas = options.minReplicas ?? 0
  const scaleStep = options.scaleStep ?? 1
  if (!(options.replicaTokensPerSecond > 0))
    throw invalidInput(`A replica's throughput must be > 0 tok/s (got ${options.replicaTokensPerSecond}).`, 'Give the throughput at the SLO.')
  if (!(headroom >= 0 && Number.isFinite(headroom)))
    throw invalidInput(`--headroom must be >= 0 (got ${headroom}).`, 'e.g. --headroom 0.2 keeps 20% spare capacity each hour.')
  if (!(Number.isInteger(minReplicas) && minReplicas >= 0)) throw invalidInput(`--min-replicas must be a whole number >= 0 (got ${minReplicas}).`, 'e.g. --min-replicas 1.')
  if (!(Number.isInteger(scaleStep) && scaleStep >= 1)) throw invalidInput(`--scale-step must be a whole number >= 1 (got ${scaleStep}).`, 'e.g. --scale-step 2.')
  return {headroom, minReplicas, scaleStep}
}

/** Tokens each hour of the profile carries: a file's own, or a shape's weights scaled to the monthly volume. */
export function hourlyTokens(profile: TrafficProfile, tokensPerMonth: number | null, hoursPerMonth: number): number[] {
  if (profile.absolute) return [...profile.values]
  if (tokensPerMonth === null) throw invalidInput(`--traffic ${profile.label} needs a volume to scale.`, 'Add --volume 100M or --daily-volume 5M (total tokens).')
  const sum = profile.values.reduce((total, value) => total + value, 0)
  // The profile's period holds (profile hours / hours per month) of the monthly volume.
  const periodTokens = (tokensPerMonth * profile.hours) / hoursPerMonth
  return profile.values.map((value) => (periodTokens * value) / sum)
}

const roundUpTo = (n: number, step: number) => Math.ceil(n / step) * step

/** Replicas one hour of `tokens` needs, and what the autoscaled fleet runs (min and step applied). */
function hourReplicas(tokens: number, replicaTokensPerHour: number, rules: {headroom: number; minReplicas: number; scaleStep: number}): {needed: number; autoscaled: number} {
  const needed = tokens > 0 ? ceilWhole((tokens * (1 + rules.headroom)) / replicaTokensPerHour) : 0
  return {needed, autoscaled: Math.max(rules.minReplicas, roundUpTo(needed, rules.scaleStep))}
}

/** The fixed fleet (the peak hour's replicas, all month) and the autoscaled one (per hour) for a period's hourly tokens. */
function fleetsOf(
  tokens: readonly number[],
  options: FleetOptions,
  rules: {headroom: number; minReplicas: number; scaleStep: number},
): {fixed: FleetCost; autoscaled: FleetCost} {
  const replicaTokensPerHour = options.replicaTokensPerSecond * SECONDS_PER_HOUR
  const periodsPerMonth = options.hoursPerMonth / tokens.length
  let periodTokens = 0
  let fixedReplicas = rules.minReplicas
  let autoscaledHours = 0
  for (const t of tokens) {
    const {needed, autoscaled} = hourReplicas(t, replicaTokensPerHour, rules)
    periodTokens += t
    fixedReplicas = Math.max(fixedReplicas, needed)
    autoscaledHours += autoscaled
  }
  const monthTokens = periodTokens * periodsPerMonth
  const fleet = (replicaHoursPerPeriod: number, replicas: number): FleetCost => {
    const replicaHoursPerMonth = replicaHoursPerPeriod * periodsPerMonth
    const monthlyCost = replicaHoursPerMonth * options.replicaUsdPerHour
    const utilization = replicaHoursPerPeriod === 0 ? 0 : periodTokens / (replicaHoursPerPeriod * replicaTokensPerHour)
    return {
      replicas,
      replicaHoursPerMonth,
      monthlyCost,
      utilization,
      idleMonthlyCost: monthlyCost * (1 - utilization),
      costPerMillionTokens: monthTokens === 0 ? Number.POSITIVE_INFINITY : (monthlyCost * TOKENS_PER_MILLION) / monthTokens,
    }
  }
  return {fixed: fleet(fixedReplicas * tokens.length, fixedReplicas), autoscaled: fleet(autoscaledHours, autoscaledHours / tokens.length)}
}

/**
 * planTraffic's fixed and autoscaled fleets alone, for hourly tokens already scaled (hourlyTokens): what a
 * search pricing many replicas of one traffic needs, without each hour's plan.
 */
export function fleetCosts(tokens: readonly number[], options: FleetOptions): {fixed: FleetCost; autoscaled: FleetCost} {
  return fleetsOf(tokens, options, requireFleetOptions(options))
}

export function planTraffic(profile: TrafficProfile, tokensPerMonth: number | null, options: FleetOptions): TrafficPlan {
  const rules = requireFleetOptions(options)
  const {headroom, minReplicas, scaleStep} = rules
  const tokens = hourlyTokens(profile, tokensPerMonth, options.hoursPerMonth)
  const replicaTokensPerHour = options.replicaTokensPerSecond * SECONDS_PER_HOUR
  const periodsPerMonth = options.hoursPerMonth / profile.hours
  const hours = tokens.map((t, hour): HourPlan => {
    const {needed, autoscaled} = hourReplicas(t, replicaTokensPerHour, rules)
    return {hour, tokens: t, replicasNeeded: needed, autoscaledReplicas: autoscaled, autoscaledUsd: autoscaled * options.replicaUsdPerHour}
  })
  const periodTokens = tokens.reduce((total, t) => total + t, 0)
  const monthTokens = periodTokens * periodsPerMonth
  const peak = hours.reduce((best, h) => (h.tokens > best.tokens ? h : best), hours[0]!)
  const {fixed, autoscaled} = fleetsOf(tokens, options, rules)
  return {
    profile: {label: profile.label, hours: profile.hours, description: profile.description, absolute: profile.absolute},
    tokensPerMonth: monthTokens,
    tokensPerDay: (monthTokens * HOURS_PER_DAY) / options.hoursPerMonth,
    peakHour: peak.hour,
    peakTokensPerHour: peak.tokens,
    averageTokensPerHour: periodTokens / profile.hours,
    peakToAverage: peak.tokens / (periodTokens / profile.hours),
    replicaTokensPerHour,
    headroom,
    minReplicas,
    scaleStep,
    hours,
    fixed,
    autoscaled,
    autoscalingSavesMonthly: fixed.monthlyCost - autoscaled.monthlyCost,
  }
}

export interface TrafficCrossover {
  /** Monthly volume (scaling this traffic shape) above which the fleet is cheaper than the API at every larger volume. */
  volumeTokensPerMonth: number | null
  kind: 'never' | 'found' | 'bound'
  reason: string
}

/** Breakpoints examined at most; beyond, the crossover is given as an upper bound. */
const MAX_BREAKPOINTS = 200_000

/**
 * The crossover of a fleet serving this traffic SHAPE (scaled to a monthly volume V) against an API at
 * `blendedPerMTok`. The fleet's cost S(V) is a step function (whole replicas each hour); the API's is p V. On
 * each stretch between two steps S is constant, so S >= pV holds on its left part, up to S / p: the crossover
 * is the largest such point over all stretches. Beyond V_max = (steps' constant part) / (p - slope), S < pV
 * always (S(V) <= slope V + constant), so only breakpoints below V_max are examined. An absolute (file)
 * profile is scaled by its shape too: the crossover says how much bigger or smaller the traffic could be.
 */
export function trafficCrossover(profile: TrafficProfile, options: FleetOptions, blendedPerMTok: number, fleetKind: 'fixed' | 'autoscaled'): TrafficCrossover {
  const {headroom, minReplicas, scaleStep} = requireFleetOptions(options)
  const p = blendedPerMTok / TOKENS_PER_MILLION
  const sum = profile.values.reduce((total, value) => total + value, 0)
  const capacity = options.replicaTokensPerSecond * SECONDS_PER_HOUR
  // Monthly volume V puts V x (w_h / sum) x (profile hours / hours per month) tokens in hour h, so hour h needs
  // V x need[h] replicas before the ceil.
  const need = profile.values.map((w) => ((w / sum) * (profile.hours / options.hoursPerMonth) * (1 + headroom)) / capacity)
  const periodsPerMonth = options.hoursPerMonth / profile.hours
  const hourUsd = options.replicaUsdPerHour
  if (fleetKind === 'fixed') {
    // S(V) = max(m, ceil(V x peak need)) x $/h x hours per month.
    return stepCrossover([Math.max(...need)], hourUsd * options.hoursPerMonth, minReplicas, 1, p)
  }
  return stepCrossover(need, hourUsd * periodsPerMonth, minReplicas, scaleStep, p)
}

/**
 * Crossover of S(V) = sum_h max(m, roundUp(ceil(V n_h), g)) x u against p V, for per-volume needs n_h >= 0.
 */
function stepCrossover(needs: number[], unitUsd: number, minReplicas: number, step: number, p: number): TrafficCrossover {
  const active = needs.filter((n) => n > 0)
  const slope = active.reduce((total, n) => total + n, 0) * unitUsd
  const describe = (v: number) => `${formatTokens(v)} tokens/month`
  if (p <= slope * (1 + 1e-12)) {
    const selfPerMTok = slope * TOKENS_PER_MILLION
    return {
      volumeTokensPerMonth: null,
      kind: 'never',
      reason: `never: even fully used, this fleet costs ${formatUsd(selfPerMTok)}/1M against the API's ${formatUsd(p * TOKENS_PER_MILLION)}/1M`,
    }
  }
  // S(V) <= sum_h (V n_h + step + m) u: the constant part bounds where S can still reach p V.
  const constant = needs.length * (step + minReplicas) * unitUsd
  const vMax = constant / (p - slope)
  const replicasAt = (v: number) => needs.reduce((total, n) => total + Math.max(minReplicas, roundUpTo(n > 0 ? ceilWhole(v * n) : 0, step)), 0)
  // Breakpoints: V where some hour's ceil(V n_h) passes a multiple of the step (the cost rises just after it).
  const breakpoints: number[] = []
  for (const n of active) {
    for (let k = step; k / n <= vMax; k += step) {
      breakpoints.push(k / n)
      if (breakpoints.length > MAX_BREAKPOINTS) {
        return {
          volumeTokensPerMonth: vMax,
          kind: 'bound',
          reason: `cheaper to self-host above at most ${describe(vMax)} (an upper bound: the fleet's steps are too many to walk exactly)`,
        }
      }
    }
  }
  breakpoints.sort((a, b) => a - b)
  // Between two breakpoints S is constant (evaluated at the stretch's middle); beyond vMax S < p V, so the last
  // stretch ends there.
  let crossover = 0
  let left = 0
  for (const right of [...breakpoints, vMax]) {
    if (right <= left) continue
    const reach = (replicasAt((left + right) / 2) * unitUsd) / p
    if (reach > left) crossover = Math.max(crossover, Math.min(right, reach))
    left = right
  }
  return {
    volumeTokensPerMonth: crossover,
    kind: 'found',
    reason: `cheaper to self-host at every volume above ${describe(crossover)} with this traffic shape`,
  }
}
