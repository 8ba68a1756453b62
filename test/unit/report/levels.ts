import type {Distribution, LevelRecord, LevelSummary, ResultFile} from '../../../src/results/schema.js'
import type {ResultVerification} from '../../../src/results/verify.js'

/** A distribution whose percentiles are all `value` except p95 = `p95` (what the SLO checks by default). */
export function flatDistribution(value: number, p95 = value): Distribution {
  return {count: 20, mean: value, stdev: 0, min: value, p50: value, p90: value, p95, p99: p95, max: p95}
}

export interface LevelSpec {
  concurrency: number
  outputTokensPerS: number
  /** Input tok/s; default 2x output (a 2:1 workload). */
  inputTokensPerS?: number
  ttftP95: number | null
  tpotP95: number | null
  e2eP95?: number | null
  completed?: number
  failed?: number
  status?: LevelRecord['status']
}

/** A level with a hand-written summary (for pure report-stage tests: no requests are needed by them). */
export function level(spec: LevelSpec): LevelRecord {
  const input = spec.inputTokensPerS ?? spec.outputTokensPerS * 2
  const summary: LevelSummary = {
    requests: {completed: spec.completed ?? 20, failed: spec.failed ?? 0},
    durationS: 10,
    throughput: {
      outputTokensPerS: spec.outputTokensPerS,
      inputTokensPerS: input,
      totalTokensPerS: spec.outputTokensPerS + input,
      requestsPerS: 2,
    },
    ttftMs: spec.ttftP95 === null ? null : flatDistribution(spec.ttftP95),
    tpotMs: spec.tpotP95 === null ? null : flatDistribution(spec.tpotP95),
    itlMsPerToken: null,
    itlMsPerChunk: null,
    e2eMs: spec.e2eP95 === undefined || spec.e2eP95 === null ? null : flatDistribution(spec.e2eP95),
    perUserTokensPerS: spec.tpotP95 === null ? null : 1000 / spec.tpotP95,
    goodput: null,
    errors: spec.failed ? {http: spec.failed} : {},
    tokenMismatches: 0,
  }
  return {
    load: {kind: 'concurrency', value: spec.concurrency},
    warmupRequests: 0,
    window: {startMs: 0, endMs: 10_000},
    status: spec.status ?? 'complete',
    requests: [],
    summary,
    telemetry: null,
    serverMetrics: null,
  }
}

/**
 * The verification of a result whose levels come from `level()`: hand-written summaries have no request records,
 * so results/verify.ts would (rightly) exclude every level. Tests of the cost stages pass this to
 * buildResultReport instead; the check itself is tested in test/unit/results/verify.test.ts.
 */
export function handWritten(result: ResultFile): ResultVerification {
  return {
    verdict: 'verified',
    levels: result.levels.map((record, index) => ({
      index,
      load: {...record.load},
      verdict: 'verified',
      requestsStored: record.requests.length,
      disagreements: [],
      reason: '',
      problems: [],
      warnings: [],
      peakInFlight: null,
      tokenMismatch: null,
    })),
  }
}
