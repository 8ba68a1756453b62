import type {Engine, GenRequest} from '../engines/types.js'
import type {RequestError, RequestErrorKind, RequestRecord} from '../results/schema.js'

/**
 * The reason a level's signal carries when capplan stops the level because its engine failed (a spawned server
 * that died), not because the user interrupted: every request it cuts off is a FAILED request, recorded with
 * this kind and message (it was sent; the result file must hold it), not dropped as an interrupted one is.
 */
export class LevelFailure extends Error {
  constructor(
    readonly kind: RequestErrorKind,
    message: string,
  ) {
    super(message)
    this.name = 'LevelFailure'
  }
}

/** One request as the level runner (level.ts) keeps it: its record and when it ended. */
export interface TimedRequest {
  record: RequestRecord
  /** Absolute performance.now() when the request ended (last content event, or the error). */
  endAt: number
  /**
   * Stopped by the user's signal before it finished: not a measurement. A request cut off by a LevelFailure is
   * not aborted: it is recorded as failed.
   */
  aborted: boolean
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * Send one request and turn its stream into a RequestRecord (times relative to t0 / to its own start).
 * Per content event: one clamp, two pushes and the onTokens callback; nothing awaited besides the stream.
 */
export async function runRequest(
  engine: Engine,
  request: GenRequest,
  index: number,
  options: {t0: number; signal: AbortSignal; onTokens?: (tokens: number) => void; session?: {id: number; turn: number}; recordCache?: boolean},
): Promise<TimedRequest> {
  const startAt = performance.now()
  const offsets: number[] = []
  const chunkTokens: number[] = []
  let usage: {promptTokens: number; completionTokens: number; cachedTokens: number | null} | null = null
  let error: RequestError | null = null
  let lastAt = startAt
  // The error came once the signal had aborted: the abort caused it (its message says "stopped by the caller").
  let erredAfterAbort = false
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
        usage = {promptTokens: event.promptTokens, completionTokens: event.completionTokens, cachedTokens: event.cachedTokens ?? null}
      } else {
        error = {kind: event.errorKind, message: event.message}
        erredAfterAbort = options.signal.aborted
        break
      }
    }
  } catch (thrown) {
    error = {kind: 'engine', message: describe(thrown)}
    erredAfterAbort = options.signal.aborted
  }
  const {signal} = options
  const cutBy = signal.aborted && signal.reason instanceof LevelFailure ? signal.reason : null
  // Cut off by the failure: a failed request naming it. An error the engine reported before the abort (e.g.
  // serverDeathError's 'engine' error naming the exit) is kept as it is.
  if (cutBy !== null && error !== null && erredAfterAbort) {
    error = {kind: cutBy.kind, message: `${cutBy.message}: cut off in flight after ${offsets.length} content event(s)`}
  }
  const aborted = signal.aborted && cutBy === null
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
    ...(options.recordCache === true ? {cachedTokens: usage?.cachedTokens ?? null} : {}),
    ...(options.session === undefined ? {} : {session: options.session}),
  }
  return {record, endAt, aborted}
}
