import type {Engine, GenRequest} from '../engines/types.js'
import type {RequestError, RequestRecord} from '../results/schema.js'

/**
 * The closed-loop (fixed concurrency) load level: exactly N requests in flight until the level's request
 * count is done — each finished request is replaced at once by the next. Closed loops hide queueing
 * (metrics.md trap 4); they measure what N concurrent users get.
 */

export interface LevelPlan {
  /** Requests kept in flight. */
  concurrency: number
  /** Measured requests (warmup excluded). */
  requests: number
  /** Requests run at the same concurrency before the window opens; not recorded. */
  warmupRequests: number
  /** Builds request `promptIndex`'s request; indices are unique over the whole run (no prompt repeats). */
  makeRequest: (promptIndex: number) => GenRequest
  /** First prompt index this level may use; it uses warmupRequests + requests indices from here. */
  firstPromptIndex: number
}

export interface LevelProgress {
  concurrency: number
  phase: 'warmup' | 'measure'
  /** Measured requests finished (failed included) and how many of them failed. */
  done: number
  failed: number
  total: number
  inFlight: number
  /** Output tokens streamed so far in the measured phase (live throughput = this / elapsed). */
  outputTokens: number
  /** ms since the measured phase started (0 during warmup). */
  elapsedMs: number
}

export interface LevelRun {
  requests: RequestRecord[]
  /** Monotonic ms relative to the run's t0: first measured request start .. last measured request end. */
  window: {startMs: number; endMs: number}
  warmupRequests: number
  /** partial: the signal stopped the level before every request finished (unfinished ones are dropped). */
  status: 'complete' | 'partial'
  /** Prompt indices consumed (warmup + measured); the next level starts after them. */
  promptsUsed: number
}

export interface LevelOptions {
  /** The run's time origin (performance.now() at run start); every recorded time is relative to it. */
  t0: number
  signal: AbortSignal
  onProgress?: (progress: LevelProgress) => void
}

interface Timed {
  record: RequestRecord
  /** Absolute performance.now() when the request ended (last content event, or the error). */
  endAt: number
  /** Stopped by the signal before it finished: not a measurement. */
  aborted: boolean
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Send one request and turn its stream into a RequestRecord (times relative to t0 / to its own start). */
export async function runRequest(
  engine: Engine,
  request: GenRequest,
  index: number,
  options: {t0: number; signal: AbortSignal; onTokens?: (tokens: number) => void},
): Promise<Timed> {
  const startAt = performance.now()
  const offsets: number[] = []
  const chunkTokens: number[] = []
  let usage: {promptTokens: number; completionTokens: number} | null = null
  let error: RequestError | null = null
  let lastAt = startAt
  try {
    for await (const event of engine.stream(request, options.signal)) {
      if (event.kind === 'content') {
        // A clock that goes backwards would be an engine bug; clamp so offsets stay non-decreasing.
        const at = Math.max(event.atMs, lastAt)
        offsets.push(at - startAt)
        chunkTokens.push(event.tokens)
        lastAt = at
        options.onTokens?.(event.tokens)
      } else if (event.kind === 'usage') {
        usage = {promptTokens: event.promptTokens, completionTokens: event.completionTokens}
      } else {
        error = {kind: event.errorKind, message: event.message}
        break
      }
    }
  } catch (thrown) {
    error = {kind: 'engine', message: describe(thrown)}
  }
  const aborted = options.signal.aborted
  const endAt = error === null ? lastAt : performance.now()
  const counted = chunkTokens.reduce((sum, n) => sum + n, 0)
  const record: RequestRecord = {
    index,
    startMs: startAt - options.t0,
    ttftMs: offsets.length > 0 ? offsets[0]! : null,
    e2eMs: offsets.length > 0 ? offsets.at(-1)! : null,
    inputTokens: usage?.promptTokens ?? request.promptTokens?.length ?? 0,
    // The engine's own count wins; a difference from the streamed count is kept and flagged by the summary.
    outputTokens: usage?.completionTokens ?? counted,
    countedTokens: counted,
    chunkOffsetsMs: offsets,
    chunkTokens: chunkTokens.every((n) => n === 1) ? null : chunkTokens,
    error,
  }
  return {record, endAt, aborted}
}

/** Run `count` requests with `concurrency` workers, each taking the next request as soon as its last ends. */
async function closedLoop(
  count: number,
  concurrency: number,
  run: (slot: number) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  let next = 0
  const worker = async () => {
    while (!signal.aborted && next < count) {
      const slot = next++
      await run(slot)
    }
  }
  await Promise.all(Array.from({length: Math.min(concurrency, count)}, worker))
}

/** One closed-loop level: optional warmup at the same concurrency, then `requests` measured requests. */
export async function runLevel(engine: Engine, plan: LevelPlan, options: LevelOptions): Promise<LevelRun> {
  const {signal, t0} = options
  let inFlight = 0
  let done = 0
  let failed = 0
  let outputTokens = 0
  let measureStart = 0
  let phase: LevelProgress['phase'] = 'warmup'
  const report = () =>
    options.onProgress?.({
      concurrency: plan.concurrency,
      phase,
      done,
      failed,
      total: plan.requests,
      inFlight,
      outputTokens,
      elapsedMs: phase === 'measure' ? performance.now() - measureStart : 0,
    })

  if (plan.warmupRequests > 0) {
    report()
    await closedLoop(
      plan.warmupRequests,
      plan.concurrency,
      async (slot) => {
        inFlight++
        await runRequest(engine, plan.makeRequest(plan.firstPromptIndex + slot), slot, {t0, signal})
        inFlight--
      },
      signal,
    )
  }

  phase = 'measure'
  measureStart = performance.now()
  const results: (Timed | undefined)[] = new Array(plan.requests)
  const firstMeasured = plan.firstPromptIndex + plan.warmupRequests
  await closedLoop(
    plan.requests,
    plan.concurrency,
    async (slot) => {
      inFlight++
      const timed = await runRequest(engine, plan.makeRequest(firstMeasured + slot), slot, {
        t0,
        signal,
        onTokens: (n) => {
          outputTokens += n
          report()
        },
      })
      inFlight--
      results[slot] = timed
      if (!timed.aborted) {
        done++
        if (timed.record.error !== null) failed++
      }
      report()
    },
    signal,
  )

  const finished = results.filter((timed): timed is Timed => timed !== undefined && !timed.aborted)
  // Loops, not Math.min(...spread): a level may hold more requests than a call can take arguments.
  let startMs = finished.length > 0 ? Infinity : 0
  let endMs = finished.length > 0 ? -Infinity : 0
  for (const timed of finished) {
    startMs = Math.min(startMs, timed.record.startMs)
    endMs = Math.max(endMs, timed.endAt - t0)
  }
  return {
    requests: finished.map((timed) => timed.record),
    window: {startMs, endMs: Math.max(startMs, endMs)},
    warmupRequests: plan.warmupRequests,
    status: finished.length === plan.requests ? 'complete' : 'partial',
    promptsUsed: plan.warmupRequests + plan.requests,
  }
}
