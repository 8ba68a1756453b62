import type {Engine, GenRequest} from '../engines/types.js'
import type {RequestError, RequestRecord} from '../results/schema.js'

/** One request as the level runner (level.ts) keeps it: its record and when it ended. */
export interface TimedRequest {
  record: RequestRecord
  /** Absolute performance.now() when the request ended (last content event, or the error). */
  endAt: number
  /** Stopped by the signal before it finished: not a measurement. */
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
  options: {t0: number; signal: AbortSignal; onTokens?: (tokens: number) => void},
): Promise<TimedRequest> {
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
