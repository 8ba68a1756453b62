/**
 * The latency statistics a peer tool itself reported for a level, kept when its file has no per-request
 * samples (vLLM saved without --save-detailed, SGLang bench_serving, AIPerf / GenAI-Perf summaries). Only
 * statistics in capplan's definitions are kept (TTFT, TPOT = (E2E - TTFT) / (output - 1), E2E = start ->
 * last token); a statistic the tool did not write is absent, never guessed. The SLO check reads them when
 * the level has no distributions of its own (report/build/operating-point.ts).
 */

import {z} from 'zod'

export const reportedStats = ['mean', 'p50', 'p90', 'p95', 'p99'] as const
export type ReportedStat = (typeof reportedStats)[number]

const stats = z.partialRecord(z.enum(reportedStats), z.number().nonnegative().finite())

export const reportedLatencySchema = z.strictObject({
  /** The tool (and version when known) whose numbers these are, e.g. "vLLM", "AIPerf 0.8.0". */
  source: z.string().min(1),
  ttftMs: stats.optional(),
  tpotMs: stats.optional(),
  e2eMs: stats.optional(),
})
export type ReportedLatency = z.infer<typeof reportedLatencySchema>
