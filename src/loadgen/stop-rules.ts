import {invalidInput} from '../lib/errors.js'
import {meanConfidenceInterval} from '../stats/confidence.js'

/**
 * When a load level stops issuing requests: after `--requests N`, after `--duration 60s`, or adaptively once
 * the throughput estimate is precise enough (`--precision 3%`). Pure decisions over counts and clocks passed
 * in; the level runner (level.ts) asks `StopController.mayIssue()` before every new request, and nothing
 * else ends a level. Requests already in flight when a rule says stop always run to the end and are recorded.
 * Rules take values (ms, fractions); the flag text is parsed in cli/parsers/load.ts.
 *
 * Adaptive precision uses BATCH MEANS of the level's aggregate output tok/s over fixed time windows, not
 * per-request tok/s: the quantity we report (and cost) is the aggregate rate the server sustains; a request's
 * own speed is per-user interactivity (1 / TPOT), which at concurrency N says little about the aggregate and
 * whose samples are strongly correlated (requests decoded in the same batches move together). Tokens counted
 * per window of `windowMs` give roughly independent samples of the aggregate rate once a window is longer
 * than the correlation of the decode loop; their t-based 95% CI half-width is compared with precision x mean.
 * The first `skipWindows` windows are left out: they hold the ramp-up (every sequence prefilling at once).
 * A window must hold many tokens for its rate to be a useful sample: in an open loop at rate r the number of
 * requests per window is Poisson, so its relative spread is 1 / sqrt(r x window) — at 0.5 req/s reaching 3%
 * takes minutes, and `--requests` / `--duration` are the sensible rules there (the maxRequests cap ends it).
 * Measured on the shared 2-core dev machine (load average ~12), 500 ms windows of the tiny model varied by
 * ~15-30% from one to the next (coefficient of variation): machine noise, not the engine, sets how long --precision runs there.
 */

export type StopRule =
  | {kind: 'requests'; requests: number}
  | {kind: 'duration'; durationMs: number; maxRequests: number}
  | {
      kind: 'precision'
      /** Relative CI half-width to reach, e.g. 0.03 for 3%. */
      relative: number
      /** Confidence of the interval (0.95). */
      confidence: number
      /** Batch-means window length in ms. */
      windowMs: number
      /** Complete windows needed before the CI is trusted (after the skipped ones). */
      minWindows: number
      /** Leading windows excluded as ramp-up. */
      skipWindows: number
      /** Measured requests to issue at least / at most, whatever the CI says. */
      minRequests: number
      maxRequests: number
    }

export const PRECISION_DEFAULTS = {
  confidence: 0.95,
  windowMs: 2000,
  minWindows: 5,
  skipWindows: 1,
  minRequests: 10,
  maxRequests: 1000,
} as const

/** A precision rule with PRECISION_DEFAULTS for what is not given; refuses bounds that contradict. */
export function precisionRule(
  relative: number,
  overrides: Partial<Omit<Extract<StopRule, {kind: 'precision'}>, 'kind' | 'relative'>> = {},
): Extract<StopRule, {kind: 'precision'}> {
  const rule = {kind: 'precision' as const, relative, ...PRECISION_DEFAULTS, ...overrides}
  if (!(rule.relative > 0 && rule.relative < 1)) throw new RangeError(`precision must be in (0, 1) (got ${rule.relative})`)
  if (rule.minRequests > rule.maxRequests) {
    throw invalidInput(
      `The adaptive stop needs at least ${rule.minRequests} requests but may issue at most ${rule.maxRequests}.`,
      'Raise the maximum request count or lower the minimum.',
    )
  }
  return rule
}

/** The most requests a rule can issue: what the bench needs to reserve unique prompts for. */
export function maxRequestsOf(rule: StopRule): number {
  return rule.kind === 'requests' ? rule.requests : rule.maxRequests
}

/**
 * Output tokens counted into fixed windows of `windowMs` from `originMs` (the level's measured start): the
 * batch-means samples. Times are performance.now()-style ms; tokens before the origin are ignored.
 */
export class ThroughputWindows {
  private readonly tokens: number[] = []

  constructor(
    readonly originMs: number,
    readonly windowMs: number,
  ) {
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be > 0 (got ${windowMs})`)
  }

  add(atMs: number, tokens: number): void {
    if (atMs < this.originMs) return
    const index = Math.floor((atMs - this.originMs) / this.windowMs)
    while (this.tokens.length <= index) this.tokens.push(0)
    this.tokens[index]! += tokens
  }

  /** tok/s of every window that has fully ended by `nowMs`, oldest first. */
  completeRates(nowMs: number): number[] {
    const complete = Math.max(0, Math.floor((nowMs - this.originMs) / this.windowMs))
    const rates: number[] = []
    for (let i = 0; i < complete; i++) rates.push(((this.tokens[i] ?? 0) * 1000) / this.windowMs)
    return rates
  }
}

export interface StopState {
  /** Measured requests issued so far. */
  issued: number
  /** ms since the level's measured phase started. */
  elapsedMs: number
  /** Batch-means samples (tok/s per complete window, oldest first); only the precision rule reads them. */
  windowRates: readonly number[]
}

export type StopReason = 'requests' | 'duration' | 'precision' | 'max-requests' | 'interrupted'

export type StopDecision = {stop: false} | {stop: true; reason: StopReason; message: string}

/** Relative CI half-width of the usable windows, or null when there are too few of them. */
export function windowPrecision(
  windowRates: readonly number[],
  rule: Pick<Extract<StopRule, {kind: 'precision'}>, 'skipWindows' | 'minWindows' | 'confidence'>,
): {mean: number; relativeMargin: number; windows: number} | null {
  const usable = windowRates.slice(rule.skipWindows)
  if (usable.length < Math.max(2, rule.minWindows)) return null
  const interval = meanConfidenceInterval(usable, rule.confidence)
  if (interval === null) return null
  return {mean: interval.mean, relativeMargin: interval.relativeMargin, windows: usable.length}
}

type WindowPrecision = ReturnType<typeof windowPrecision>

/**
 * Whether the level may issue one more measured request, and if not, why it stopped.
 * @param precomputed the precision rule's windowPrecision(state.windowRates) when the caller already has it
 */
export function stopDecision(rule: StopRule, state: StopState, precomputed?: WindowPrecision): StopDecision {
  switch (rule.kind) {
    case 'requests':
      return state.issued >= rule.requests ? {stop: true, reason: 'requests', message: `${rule.requests} requests issued`} : {stop: false}
    case 'duration':
      if (state.elapsedMs >= rule.durationMs) {
        return {stop: true, reason: 'duration', message: `duration ${formatMs(rule.durationMs)} reached after ${state.issued} requests`}
      }
      return state.issued >= rule.maxRequests
        ? {stop: true, reason: 'max-requests', message: `request cap ${rule.maxRequests} reached before the duration ${formatMs(rule.durationMs)}`}
        : {stop: false}
    case 'precision': {
      if (state.issued < rule.minRequests) return {stop: false}
      const precision = precomputed === undefined ? windowPrecision(state.windowRates, rule) : precomputed
      if (state.issued >= rule.maxRequests) {
        const reached = precision === null ? 'too few windows for a CI' : `CI half-width ${percent(precision.relativeMargin)}`
        return {
          stop: true,
          reason: 'max-requests',
          message: `request cap ${rule.maxRequests} reached before the precision ${percent(rule.relative)} (${reached})`,
        }
      }
      if (precision === null || !(precision.relativeMargin <= rule.relative)) return {stop: false}
      return {
        stop: true,
        reason: 'precision',
        message: `${Math.round(rule.confidence * 100)}% CI half-width ${percent(precision.relativeMargin)} <= ${percent(rule.relative)} of ${precision.mean.toFixed(1)} output tok/s over ${precision.windows} windows of ${formatMs(rule.windowMs)}, after ${state.issued} requests`,
      }
    }
  }
}

/**
 * Stateful wrapper the level runner uses: counts issued requests, feeds streamed tokens into the windows,
 * and re-evaluates the (costly, t-quantile) CI only when a new window has completed.
 */
export class StopController {
  private issued = 0
  private readonly windows: ThroughputWindows | null
  private cachedPrecision: WindowPrecision = null
  private cachedWindowCount = -1
  /** The decision that stopped the level (null while it runs). */
  stopped: Extract<StopDecision, {stop: true}> | null = null
  /** Precision rule: the batch-means estimate when the level stopped (null for other rules / too few windows). */
  precisionAtStop: WindowPrecision = null

  constructor(
    readonly rule: StopRule,
    private readonly measureStartMs: number,
  ) {
    this.windows = rule.kind === 'precision' ? new ThroughputWindows(measureStartMs, rule.windowMs) : null
  }

  /** Output tokens streamed at `atMs` (performance.now()). */
  onTokens(atMs: number, tokens: number): void {
    this.windows?.add(atMs, tokens)
  }

  /** performance.now() at which a duration rule ends the level (Infinity for the other rules). */
  get deadlineMs(): number {
    return this.rule.kind === 'duration' ? this.measureStartMs + this.rule.durationMs : Number.POSITIVE_INFINITY
  }

  /** Ask before issuing a measured request; true = issue it (and it is counted). */
  mayIssue(nowMs: number): boolean {
    if (this.stopped !== null) return false
    const decision = this.decide(nowMs)
    if (decision.stop) {
      this.stopped = decision
      this.precisionAtStop = this.cachedPrecision
      return false
    }
    this.issued++
    return true
  }

  /** Issued measured requests so far. */
  get issuedCount(): number {
    return this.issued
  }

  /** The current batch-means samples (for the level's notes). */
  windowRates(nowMs: number): number[] {
    return this.windows?.completeRates(nowMs) ?? []
  }

  private decide(nowMs: number): StopDecision {
    const elapsedMs = nowMs - this.measureStartMs
    if (this.windows === null || this.rule.kind !== 'precision') {
      return stopDecision(this.rule, {issued: this.issued, elapsedMs, windowRates: []})
    }
    const rates = this.windows.completeRates(nowMs)
    // The CI (a t-quantile by bisection) only changes when a window completes: compute it once per window.
    if (rates.length !== this.cachedWindowCount) {
      this.cachedPrecision = windowPrecision(rates, this.rule)
      this.cachedWindowCount = rates.length
    }
    return stopDecision(this.rule, {issued: this.issued, elapsedMs, windowRates: rates}, this.cachedPrecision)
  }
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`
}
