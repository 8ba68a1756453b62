import {uniformRandom} from '../lib/random.js'
import type {LoadKind} from '../results/schema.js'

/**
 * Arrival processes: when a level may start its next request. The level runner (level.ts) asks an arrival
 * for the next one, waits until it is due and until a request slot is free, then asks the stop rule; the
 * arrival never ends a level. Two processes today:
 * - closed (`--concurrency N`): the next request is due as soon as one of the N in flight ends. Closed loops
 *   hide queueing (metrics.md trap 4); they measure what N concurrent users get.
 * - poisson (`--rate R`): exponential inter-arrival times from a seeded PRNG, so the schedule is the same for
 *   the same seed; each request is sent at its scheduled time whether or not earlier ones have finished. A
 *   server that cannot keep up builds a queue, and that queue shows in TTFT.
 * A trace (arrival times read from a file) is one more process of the same shape: a due time per request.
 *
 * In-flight cap: an open loop at a rate above capacity would open connections without bound. At most
 * `maxInFlight` requests run at once; an arrival that finds the cap full waits for a slot (sent late), and
 * the level's notes say how many were late and by how much: the offered rate was not sustained.
 */

/** A level's arrivals as a plan states them (plain data: the runner starts a fresh process from it). */
export type Arrival =
  | {kind: 'concurrency'; concurrency: number}
  | {
      kind: 'rate'
      /** requests per second */
      rate: number
      seed: number
      /** at most this many requests at once */
      maxInFlight: number
      /** Gamma inter-arrival shape (1 or absent = Poisson; below 1 burstier, above 1 more regular). */
      burstiness?: number
      /** The rate ramps linearly from 0 to `rate` over this many ms, then stays (absent = no ramp). */
      rampMs?: number
    }
  /** Replayed arrivals: request k is due offsetsMs[k] after the level's start (a trace's timestamps, scaled). */
  | {kind: 'trace'; offsetsMs: readonly number[]; maxInFlight: number}

/** The load a level records (result file `load`): the concurrency, or the offered rate in req/s. */
export interface LevelLoad {
  kind: LoadKind
  value: number
}

export function loadOf(arrival: Arrival): LevelLoad {
  if (arrival.kind === 'trace') return {kind: 'rate', value: traceRate(arrival.offsetsMs)}
  return arrival.kind === 'rate' ? {kind: 'rate', value: arrival.rate} : {kind: 'concurrency', value: arrival.concurrency}
}

/** A trace's offered rate in req/s: (requests - 1) / its span; 1 req/s for a trace of one instant. */
export function traceRate(offsetsMs: readonly number[]): number {
  const spanMs = offsetsMs.length > 1 ? offsetsMs.at(-1)! - offsetsMs[0]! : 0
  return spanMs > 0 ? Number((((offsetsMs.length - 1) * 1000) / spanMs).toPrecision(6)) : 1
}

/** A running arrival process, one per level (and one per warmup). */
export interface ArrivalProcess {
  /** Requests in flight at most: a request that is due while all are busy waits for one to end. */
  readonly maxInFlight: number
  /**
   * Moves on to the next arrival: when it is due (performance.now() ms), or null when it is due as soon as a
   * slot is free (the closed loop).
   */
  next(): number | null
  /** The arrival `next()` returned last was sent at `nowMs` as measured request `index`; `waited`: for a slot. */
  sent(index: number, waited: boolean, nowMs: number): void
  /** Scheduled send time of each issued request by its index (ms from the run's t0); null when unscheduled. */
  readonly scheduledMs: number[] | null
  /** What the level's notes say about its arrivals, once it has ended. */
  notes(): string[]
}

/**
 * Start the process `arrival` describes.
 * @param startMs performance.now() at the level's start: scheduled arrivals count from it
 * @param t0 the run's time origin (scheduledMs is relative to it)
 */
export function startArrivals(arrival: Arrival, startMs: number, t0: number): ArrivalProcess {
  if (arrival.kind === 'concurrency') return closedArrivals(arrival.concurrency)
  if (arrival.kind === 'trace') {
    const offsets = arrival.offsetsMs
    let k = 0
    return scheduledProcess(
      arrival.maxInFlight,
      () => offsets[Math.min(k++, offsets.length - 1)]!,
      startMs,
      t0,
      (issued, spanS) => `trace replay: ${issued} of ${offsets.length} arrivals over ${spanS.toFixed(1)}s`,
      `the trace's ${traceRate(offsets)} req/s`,
    )
  }
  const plain = (arrival.burstiness ?? 1) === 1 && arrival.rampMs === undefined
  const offsets = plain ? poissonArrivalsMs(arrival.rate, arrival.seed) : shapedArrivalsMs(arrival.rate, arrival.seed, arrival.burstiness ?? 1, arrival.rampMs ?? 0)
  const what = plain
    ? 'Poisson'
    : `${(arrival.burstiness ?? 1) === 1 ? 'Poisson' : `gamma (burstiness ${arrival.burstiness})`}${arrival.rampMs === undefined ? '' : ` ramped over ${(arrival.rampMs / 1000).toFixed(1)}s`}`
  return scheduledProcess(
    arrival.maxInFlight,
    () => offsets.next().value,
    startMs,
    t0,
    (issued, spanS) => `open loop: ${issued} ${what} arrivals over ${spanS.toFixed(1)}s (target ${arrival.rate} req/s, seed ${arrival.seed})`,
    `${arrival.rate} req/s`,
  )
}

/** N in flight: every request is due the moment a slot frees, nothing to schedule or note. */
function closedArrivals(concurrency: number): ArrivalProcess {
  return {maxInFlight: concurrency, next: () => null, sent: () => {}, scheduledMs: null, notes: () => []}
}

/** Arrivals at offsets from the level's start, `nextOffset` giving each in turn; noted as `describe` says. */
function scheduledProcess(
  maxInFlight: number,
  nextOffset: () => number,
  startMs: number,
  t0: number,
  describe: (issued: number, spanS: number) => string,
  offered: string,
): ArrivalProcess {
  const scheduledMs: number[] = []
  let dueOffset = 0
  let issued = 0
  let late = 0
  let maxLagMs = 0
  let lastScheduledOffset = 0
  return {
    maxInFlight,
    next: () => {
      dueOffset = nextOffset()
      return startMs + dueOffset
    },
    sent: (index, waited, nowMs) => {
      const scheduledAt = startMs + dueOffset
      issued++
      if (waited) {
        late++
        maxLagMs = Math.max(maxLagMs, nowMs - scheduledAt)
      }
      scheduledMs[index] = scheduledAt - t0
      lastScheduledOffset = dueOffset
    },
    scheduledMs,
    notes: () => {
      const notes: string[] = []
      if (issued > 1 && lastScheduledOffset > 0) notes.push(describe(issued, lastScheduledOffset / 1000))
      if (late > 0) {
        notes.push(
          `in-flight cap ${maxInFlight} reached: ${late} of ${issued} requests waited for a free slot and were sent up to ${maxLagMs.toFixed(0)} ms late, so the offered rate ${offered} was not sustained (the engine is saturated; TTFT is timed from the actual send and leaves that wait out)`,
        )
      }
      return notes
    },
  }
}

/**
 * Poisson arrival offsets in ms from the level's start: arrival k = sum of k exponential gaps
 * -ln(1 - u) / rate seconds, u from mulberry32(seed). (1 - u) is in (0, 1], so the log is finite.
 * Infinite; take what the stop rule allows.
 */
export function* poissonArrivalsMs(rate: number, seed: number): Generator<number, never> {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be a positive number (got ${rate})`)
  const random = uniformRandom(seed)
  let atMs = 0
  for (;;) {
    atMs += (-Math.log(1 - random()) / rate) * 1000
    yield atMs
  }
}

/** The first `count` arrival offsets (ms) of poissonArrivalsMs. */
export function poissonScheduleMs(rate: number, seed: number, count: number): number[] {
  const arrivals = poissonArrivalsMs(rate, seed)
  return Array.from({length: count}, () => arrivals.next().value)
}

/**
 * A gamma variate of shape k and scale 1 (Marsaglia & Tsang 2000; for k < 1 the k + 1 draw times u^(1/k)).
 * Normals by Box-Muller from the same stream.
 */
export function gammaVariate(shape: number, random: () => number): number {
  if (shape < 1) return gammaVariate(shape + 1, random) * Math.pow(1 - random(), 1 / shape)
  const d = shape - 1 / 3
  const c = 1 / Math.sqrt(9 * d)
  for (;;) {
    let x: number
    let v: number
    do {
      x = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
      v = 1 + c * x
    } while (v <= 0)
    v = v * v * v
    const u = 1 - random()
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v
  }
}

/**
 * Offsets (ms) of a renewal process at `rate` req/s whose gaps are gamma(burstiness) with mean 1/rate (the
 * coefficient of variation of the gaps is 1/sqrt(burstiness): 1 = Poisson, 0.25 = gaps twice as variable),
 * optionally ramped: the rate rises linearly from 0 to `rate` over rampMs, then stays. The ramp is a time
 * change: unit-mean gaps accumulate to E and the arrival is at Λ^-1(E), Λ(t) = rate t^2 / (2 rampS) up to
 * rampS, then rate (t - rampS / 2).
 */
export function* shapedArrivalsMs(rate: number, seed: number, burstiness: number, rampMs: number): Generator<number, never> {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be a positive number (got ${rate})`)
  if (!(burstiness > 0) || !Number.isFinite(burstiness)) throw new RangeError(`burstiness must be a positive number (got ${burstiness})`)
  const random = uniformRandom(seed)
  const rampS = rampMs / 1000
  let e = 0
  for (;;) {
    e += burstiness === 1 ? -Math.log(1 - random()) : gammaVariate(burstiness, random) / burstiness
    const atS = rampS > 0 && e <= (rate * rampS) / 2 ? Math.sqrt((2 * rampS * e) / rate) : rampS / 2 + e / rate
    yield atS * 1000
  }
}
