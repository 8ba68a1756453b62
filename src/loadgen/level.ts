import type {Engine, GenRequest} from '../engines/types.js'
import type {RequestRecord} from '../results/schema.js'
import {type Arrival, type LevelLoad, loadOf, startArrivals} from './arrivals.js'
import {runRequest, type TimedRequest} from './request.js'
import {StopController, type StopReason, type StopRule} from './stop-rules.js'

/**
 * THE level runner, for every arrival process (arrivals.ts) and every stop rule (stop-rules.ts): the arrival
 * says when the next request is due and how many may be in flight; the stop rule alone says when the level
 * stops issuing (the requests in flight then finish and are recorded). Each request is sent and recorded by
 * runRequest (request.ts): startMs = when it was actually sent; a scheduled arrival also keeps its due time.
 * Records are in request-index order; the window spans the first measured start to the last measured end.
 */

export interface LevelPlan {
  arrival: Arrival
  stop: StopRule
  /** Requests run with the same arrivals before the measured phase, ended by their count; not recorded. */
  warmupRequests?: number
  /** Builds request `promptIndex`'s request; indices are unique over the whole run (no prompt repeats). */
  makeRequest: (promptIndex: number) => GenRequest
  /** First prompt index this level may use: warmupRequests + up to maxRequestsOf(stop) indices from here. */
  firstPromptIndex: number
  /**
   * Multi-turn sessions: the session and turn of prompt index p and the prompt index of its previous turn. A
   * turn is sent once its previous turn (of this phase) has ended and thinkTimeMs more have passed; it holds
   * its request slot meanwhile (a closed loop's user is busy thinking), TTFT is timed from the actual send.
   */
  sessionOf?: (promptIndex: number) => {id: number; turn: number; previous: number | null} | null
  thinkTimeMs?: number
  /** Record each request's prompt tokens served from the server's cache (cachedTokens; null = it did not say). */
  recordCache?: boolean
}

export interface LevelProgress {
  load: LevelLoad
  phase: 'warmup' | 'measure'
  /** Requests of this phase issued, finished (failed included) and failed. */
  issued: number
  done: number
  failed: number
  /** The requests rule's count (the warmup's count during warmup); null when a duration or precision rule ends the level. */
  total: number | null
  inFlight: number
  /** Output tokens streamed so far in this phase (live throughput = this / elapsedMs). */
  outputTokens: number
  /** ms since this phase started. */
  elapsedMs: number
}

export interface LevelRun {
  load: LevelLoad
  requests: RequestRecord[]
  /** Monotonic ms relative to the run's t0: first measured request start .. last measured request end. */
  window: {startMs: number; endMs: number}
  warmupRequests: number
  /** partial: the signal stopped the level before the stop rule did, or before every request finished. */
  status: 'complete' | 'partial'
  /** Prompt indices consumed (warmup + measured requests issued); the next level starts after them. */
  promptsUsed: number
  /**
   * Scheduled arrivals: the send time of request i (ms relative to the run's t0), for every ISSUED request
   * by its index (records dropped by an interruption leave their slot). null for the closed loop.
   */
  scheduledMs: number[] | null
  stopReason: StopReason
  /** Why the level stopped, for the level's notes. */
  stopMessage: string
  /** Human notes from the arrivals for the result file (cap hits, achieved arrival rate). */
  notes: string[]
  /**
   * Precision rule only: the batch-means estimate of output tok/s when the level stopped issuing (mean,
   * relative 95% CI half-width, windows used); null otherwise or with too few windows.
   */
  precision: {mean: number; relativeMargin: number; windows: number} | null
}

export interface LevelOptions {
  /** The run's time origin (performance.now() at run start); every recorded time is relative to it. */
  t0: number
  signal: AbortSignal
  onProgress?: (progress: LevelProgress) => void
}

/** Run one level: its warmup (if any), then measured requests until its stop rule says stop. */
export async function runLevel(engine: Engine, plan: LevelPlan, options: LevelOptions): Promise<LevelRun> {
  const warmupRequests = plan.warmupRequests ?? 0
  if (warmupRequests > 0) {
    const load = loadOf(plan.arrival)
    options.onProgress?.({load, phase: 'warmup', issued: 0, done: 0, failed: 0, total: warmupRequests, inFlight: 0, outputTokens: 0, elapsedMs: 0})
    await measure(engine, {...plan, stop: {kind: 'requests', requests: warmupRequests}}, options, 'warmup')
  }
  const run = await measure(engine, {...plan, firstPromptIndex: plan.firstPromptIndex + warmupRequests}, options)
  return {...run, warmupRequests, promptsUsed: warmupRequests + run.promptsUsed}
}

/** A closed loop of a fixed count (N in flight, `requests` measured): runLevel with that arrival and rule. */
export function runClosedLevel(
  engine: Engine,
  plan: {concurrency: number; requests: number; warmupRequests: number; makeRequest: (promptIndex: number) => GenRequest; firstPromptIndex: number},
  options: LevelOptions,
): Promise<LevelRun> {
  const {concurrency, requests, ...rest} = plan
  return runLevel(engine, {...rest, arrival: {kind: 'concurrency', concurrency}, stop: {kind: 'requests', requests}}, options)
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

/** One phase (warmup or measured) of a level; promptsUsed = the requests it issued. */
async function measure(engine: Engine, plan: LevelPlan, options: LevelOptions, phase: LevelProgress['phase'] = 'measure'): Promise<Omit<LevelRun, 'warmupRequests'>> {
  const {signal, t0, onProgress} = options
  const load = loadOf(plan.arrival)
  const total = plan.stop.kind === 'requests' ? plan.stop.requests : null
  // Only the precision rule counts tokens over time: the other rules cost no clock read per token.
  const windowed = plan.stop.kind === 'precision'
  const measureStart = performance.now()
  const controller = new StopController(plan.stop, measureStart)
  const arrivals = startArrivals(plan.arrival, measureStart, t0)
  const results: TimedRequest[] = []
  /** Multi-turn: when each request of this phase ended (performance.now()), by prompt index. */
  const ends = new Map<number, Promise<number>>()
  const sending: Promise<void>[] = []
  let inFlight = 0
  let done = 0
  let failed = 0
  let outputTokens = 0
  // Successful requests whose output length is not the one they asked for (maxTokens with ignore-EOS): a
  // server that stops early or runs on. Noted for the result file; report excludes such a level from cost.
  let lengthMismatches = 0
  let requestedLength = 0
  // A throw from makeRequest or onProgress ends the level with it, once the requests in flight have ended.
  const thrown: unknown[] = []

  // The issuing loop waits here for a free slot; a request's end or the signal wakes it.
  let wake: (() => void) | null = null
  const wakeUp = () => {
    const resolve = wake
    wake = null
    resolve?.()
  }
  const slotFreed = () =>
    new Promise<void>((resolve) => {
      wake = resolve
    })
  signal.addEventListener('abort', wakeUp, {once: true})

  // onProgress?.() evaluates nothing when there is no listener: no clock read per token then.
  const report = () => onProgress?.({load, phase, issued: controller.issuedCount, done, failed, total, inFlight, outputTokens, elapsedMs: performance.now() - measureStart})

  /** Send measured request `index` now; resolves (never rejects) when it has ended, waking the issuing loop. */
  const send = async (index: number): Promise<void> => {
    inFlight++
    const promptIndex = plan.firstPromptIndex + index
    let ended = (_atMs: number) => {}
    if (plan.sessionOf !== undefined) ends.set(promptIndex, new Promise<number>((resolve) => (ended = resolve)))
    try {
      report()
      const session = plan.sessionOf?.(promptIndex) ?? null
      const previous = session?.previous === null || session === null ? undefined : ends.get(session.previous)
      if (previous !== undefined) {
        const previousEnd = await previous
        await sleepUntil(previousEnd + (plan.thinkTimeMs ?? 0), signal)
      }
      const request = plan.makeRequest(promptIndex)
      const timed = await runRequest(engine, request, index, {
        t0,
        signal,
        ...(session === null ? {} : {session: {id: session.id, turn: session.turn}}),
        ...(plan.recordCache === true ? {recordCache: true} : {}),
        onTokens: (tokens) => {
          if (windowed) controller.onTokens(performance.now(), tokens)
          outputTokens += tokens
          report()
        },
      })
      inFlight--
      results.push(timed)
      if (!timed.aborted) {
        done++
        if (timed.record.error !== null) failed++
        else if (timed.record.outputTokens !== request.maxTokens) {
          lengthMismatches++
          requestedLength = request.maxTokens
        }
      }
      report()
    } catch (error) {
      thrown.push(error)
    } finally {
      ended(performance.now())
      wakeUp()
    }
  }

  try {
    while (!signal.aborted && thrown.length === 0) {
      const dueAt = arrivals.next()
      if (dueAt !== null) {
        // A duration ends before this arrival: stop now instead of sleeping until it (low rates).
        if (dueAt >= controller.deadlineMs) {
          controller.mayIssue(dueAt)
          break
        }
        await sleepUntil(dueAt, signal)
        if (signal.aborted) break
      }
      let waited = false
      if (inFlight >= arrivals.maxInFlight) {
        // Every slot is busy: this arrival waits for the first request in flight to end.
        await slotFreed()
        if (signal.aborted || thrown.length > 0) break
        waited = true
      }
      // Decide on the real clock: when arrivals run late, a duration still ends on time.
      if (!controller.mayIssue(performance.now())) break
      const index = controller.issuedCount - 1
      arrivals.sent(index, waited, performance.now())
      sending.push(send(index))
    }
    await Promise.all(sending)
  } finally {
    signal.removeEventListener('abort', wakeUp)
  }
  if (thrown.length > 0) throw thrown[0]

  const finished = results.filter((timed) => !timed.aborted).sort((a, b) => a.record.index - b.record.index)
  // Loops, not Math.min(...spread): a level may hold more requests than a call can take arguments.
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
    status: interrupted ? 'partial' : 'complete',
    promptsUsed: controller.issuedCount,
    scheduledMs: arrivals.scheduledMs,
    stopReason: controller.stopped?.reason ?? 'interrupted',
    stopMessage: controller.stopped?.message ?? 'interrupted by a signal',
    notes: [
      ...arrivals.notes(),
      ...(lengthMismatches === 0
        ? []
        : [`token mismatch: ${lengthMismatches} of ${done - failed} requests returned a different output length than requested (${requestedLength} tokens)`]),
    ],
    precision: controller.precisionAtStop,
  }
}
