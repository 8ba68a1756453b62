import type {Engine, GenRequest} from '../engines/types.js'
import {uniformRandom} from '../lib/random.js'
import {invalidInput} from '../lib/errors.js'
import type {LoadKind, RequestRecord} from '../results/schema.js'
import {type LevelRun, runRequest} from './closed-loop.js'
import {StopController, type StopReason, type StopRule} from './stop-rules.js'

/**
 * Load levels that end by a stop rule (stop-rules.ts), in either arrival mode:
 * - open loop (`--rate R`): Poisson arrivals — exponential inter-arrival times from a seeded PRNG, so the
 *   schedule is the same for the same seed — each request sent at its scheduled time whether or not earlier
 *   ones have finished. A server that cannot keep up builds a queue, and that queue shows in TTFT (closed
 *   loops hide it: metrics.md trap 4).
 * - closed loop (`--concurrency N`) with a duration or precision rule (closed-loop.ts's runLevel covers a
 *   fixed request count).
 * Requests are recorded exactly as the closed loop records them (runRequest): startMs = when the request
 * was actually sent; the open loop also returns each request's scheduled time.
 *
 * In-flight cap: an open loop at a rate above capacity would open connections without bound. At most
 * `maxInFlight` requests run at once; an arrival that finds the cap full waits for a slot (sent late), and
 * the level's notes say how many were late and by how much — the offered rate was not sustained.
 */

export type Arrival =
  | {kind: 'concurrency'; concurrency: number}
  | {kind: 'rate'; /** requests per second */ rate: number; seed: number; /** at most this many requests at once */ maxInFlight: number}

export interface LoadLevelPlan {
  arrival: Arrival
  stop: StopRule
  /** Builds request `promptIndex`'s request; indices are unique over the whole run (no prompt repeats). */
  makeRequest: (promptIndex: number) => GenRequest
  /** First prompt index this level may use; it uses up to maxRequestsOf(stop) indices from here. */
  firstPromptIndex: number
}

export interface LoadLevelProgress {
  load: {kind: LoadKind; value: number}
  /** Measured requests issued, finished (failed included) and failed. */
  issued: number
  done: number
  failed: number
  inFlight: number
  /** Output tokens streamed so far (live throughput = this / elapsedMs). */
  outputTokens: number
  elapsedMs: number
}

export interface LoadLevelRun extends LevelRun {
  load: {kind: LoadKind; value: number}
  /**
   * Open loop: the scheduled send time of request i (ms relative to the run's t0), for every ISSUED request
   * by its index (records dropped by an interruption leave their slot). null for the closed loop.
   */
  scheduledMs: number[] | null
  stopReason: StopReason
  /** Why the level stopped, for the level's notes. */
  stopMessage: string
  /** Human notes for the result file (cap hits, achieved arrival rate). */
  notes: string[]
  /**
   * Precision rule only: the batch-means estimate of output tok/s when the level stopped issuing (mean,
   * relative 95% CI half-width, windows used); null otherwise or with too few windows.
   */
  precision: {mean: number; relativeMargin: number; windows: number} | null
}

export interface LoadLevelOptions {
  /** The run's time origin (performance.now() at run start); every recorded time is relative to it. */
  t0: number
  signal: AbortSignal
  onProgress?: (progress: LoadLevelProgress) => void
}

/**
 * Parse `--rate 0.5,1,2` (requests per second, comma-separated) into positive numbers, in the order given.
 * @param flagName the flag named in errors
 */
export function parseRates(text: string, flagName: string): number[] {
  const items = text.split(',').map((item) => item.trim())
  if (items.every((item) => item.length === 0)) {
    throw invalidInput(`${flagName} is empty.`, `Give one or more request rates per second, e.g. ${flagName} 0.5,1,2`)
  }
  return items.map((item) => {
    const rate = /^\d*\.?\d+(?:e[+-]?\d+)?$/i.test(item) ? Number(item) : Number.NaN
    if (!(rate > 0) || !Number.isFinite(rate)) {
      throw invalidInput(`${flagName}: "${item}" is not a positive number of requests per second.`, `e.g. ${flagName} 0.5,1,2`)
    }
    return rate
  })
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
 * Resolve once performance.now() >= atMs (at once if already past), or early when the signal aborts.
 * Node's timers run on a millisecond clock cached per loop turn and may fire a fraction of a ms before the
 * requested time, so this re-checks and waits again: a request is never sent before its schedule.
 */
async function sleepUntil(atMs: number, signal: AbortSignal): Promise<void> {
  while (!signal.aborted && performance.now() < atMs) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(1, Math.ceil(atMs - performance.now())))
      signal.addEventListener('abort', done, {once: true})
    })
  }
}

interface Finished {
  record: RequestRecord
  endAt: number
  aborted: boolean
}

/** Run one level until its stop rule says stop (then the requests in flight finish and are recorded). */
export async function runLoadLevel(engine: Engine, plan: LoadLevelPlan, options: LoadLevelOptions): Promise<LoadLevelRun> {
  const {signal, t0, onProgress} = options
  const {arrival} = plan
  const load = arrival.kind === 'rate' ? {kind: 'rate' as const, value: arrival.rate} : {kind: 'concurrency' as const, value: arrival.concurrency}
  const measureStart = performance.now()
  const controller = new StopController(plan.stop, measureStart)
  const results: Finished[] = []
  let inFlight = 0
  let done = 0
  let failed = 0
  let outputTokens = 0

  const report = () =>
    onProgress?.({load, issued: controller.issuedCount, done, failed, inFlight, outputTokens, elapsedMs: performance.now() - measureStart})

  /** Send measured request `index` now; resolves when it has ended. */
  const send = async (index: number): Promise<void> => {
    inFlight++
    report()
    const timed = await runRequest(engine, plan.makeRequest(plan.firstPromptIndex + index), index, {
      t0,
      signal,
      onTokens: (tokens) => {
        controller.onTokens(performance.now(), tokens)
        outputTokens += tokens
      },
    })
    inFlight--
    results.push(timed)
    if (!timed.aborted) {
      done++
      if (timed.record.error !== null) failed++
    }
    report()
  }

  const notes: string[] = []
  let scheduledMs: number[] | null = null
  if (arrival.kind === 'concurrency') {
    let next = 0
    const worker = async () => {
      while (!signal.aborted && controller.mayIssue(performance.now())) await send(next++)
    }
    await Promise.all(Array.from({length: arrival.concurrency}, worker))
  } else {
    scheduledMs = []
    const running = new Set<Promise<void>>()
    const arrivals = poissonArrivalsMs(arrival.rate, arrival.seed)
    let late = 0
    let maxLagMs = 0
    let lastScheduledOffset = 0
    // One promise for the whole level (a listener per cap hit would pile up on the signal).
    const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), {once: true}))
    while (!signal.aborted) {
      const offset = arrivals.next().value
      const scheduledAt = measureStart + offset
      // A duration ends before this arrival: stop now instead of sleeping until it (low rates).
      if (scheduledAt >= controller.deadlineMs) {
        controller.mayIssue(scheduledAt)
        break
      }
      await sleepUntil(scheduledAt, signal)
      if (signal.aborted) break
      let waited = false
      if (running.size >= arrival.maxInFlight) {
        // The cap is full: this arrival waits for the first request in flight to end (it is sent late).
        await Promise.race([...running, aborted])
        if (signal.aborted) break
        waited = true
      }
      // Decide on the real clock: when arrivals run late, a duration still ends on time.
      if (!controller.mayIssue(performance.now())) break
      if (waited) {
        late++
        maxLagMs = Math.max(maxLagMs, performance.now() - scheduledAt)
      }
      const index = controller.issuedCount - 1
      scheduledMs[index] = scheduledAt - t0
      lastScheduledOffset = offset
      const request: Promise<void> = send(index).finally(() => running.delete(request))
      running.add(request)
    }
    await Promise.all(running)
    const issued = controller.issuedCount
    if (issued > 1 && lastScheduledOffset > 0) {
      notes.push(`open loop: ${issued} Poisson arrivals over ${(lastScheduledOffset / 1000).toFixed(1)}s (target ${arrival.rate} req/s, seed ${arrival.seed})`)
    }
    if (late > 0) {
      notes.push(
        `in-flight cap ${arrival.maxInFlight} reached: ${late} of ${issued} requests waited for a free slot and were sent up to ${maxLagMs.toFixed(0)} ms late, so the offered rate ${arrival.rate} req/s was not sustained (the engine is saturated; TTFT is timed from the actual send and leaves that wait out)`,
      )
    }
  }

  const finished = results.filter((timed) => !timed.aborted).sort((a, b) => a.record.index - b.record.index)
  let startMs = finished.length > 0 ? Infinity : 0
  let endMs = finished.length > 0 ? -Infinity : 0
  for (const timed of finished) {
    startMs = Math.min(startMs, timed.record.startMs)
    endMs = Math.max(endMs, timed.endAt - t0)
  }
  const interrupted = controller.stopped === null || finished.length < results.length
  return {
    load,
    requests: finished.map((timed) => timed.record),
    window: {startMs, endMs: Math.max(startMs, endMs)},
    warmupRequests: 0,
    status: interrupted ? 'partial' : 'complete',
    promptsUsed: controller.issuedCount,
    scheduledMs,
    stopReason: controller.stopped?.reason ?? 'interrupted',
    stopMessage: controller.stopped?.message ?? 'interrupted by a signal',
    notes,
    precision: controller.precisionAtStop,
  }
}
