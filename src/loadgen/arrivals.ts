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
  | {kind: 'rate'; /** requests per second */ rate: number; seed: number; /** at most this many requests at once */ maxInFlight: number}

/** The load a level records (result file `load`): the concurrency, or the offered rate in req/s. */
export interface LevelLoad {
  kind: LoadKind
  value: number
}

export function loadOf(arrival: Arrival): LevelLoad {
  return arrival.kind === 'rate' ? {kind: 'rate', value: arrival.rate} : {kind: 'concurrency', value: arrival.concurrency}
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
  return arrival.kind === 'concurrency' ? closedArrivals(arrival.concurrency) : poissonProcess(arrival, startMs, t0)
}

/** N in flight: every request is due the moment a slot frees, nothing to schedule or note. */
function closedArrivals(concurrency: number): ArrivalProcess {
  return {maxInFlight: concurrency, next: () => null, sent: () => {}, scheduledMs: null, notes: () => []}
}

function poissonProcess(arrival: Extract<Arrival, {kind: 'rate'}>, startMs: number, t0: number): ArrivalProcess {
  const offsets = poissonArrivalsMs(arrival.rate, arrival.seed)
  const scheduledMs: number[] = []
  let dueOffset = 0
  let issued = 0
  let late = 0
  let maxLagMs = 0
  let lastScheduledOffset = 0
  return {
    maxInFlight: arrival.maxInFlight,
    next: () => {
      dueOffset = offsets.next().value
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
      if (issued > 1 && lastScheduledOffset > 0) {
        notes.push(`open loop: ${issued} Poisson arrivals over ${(lastScheduledOffset / 1000).toFixed(1)}s (target ${arrival.rate} req/s, seed ${arrival.seed})`)
      }
      if (late > 0) {
        notes.push(
          `in-flight cap ${arrival.maxInFlight} reached: ${late} of ${issued} requests waited for a free slot and were sent up to ${maxLagMs.toFixed(0)} ms late, so the offered rate ${arrival.rate} req/s was not sustained (the engine is saturated; TTFT is timed from the actual send and leaves that wait out)`,
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
