import type {RequestRecord, SloSpec} from '../results/schema.js'

export type {SloSpec} from '../results/schema.js'

/** Human form of an SLO, e.g. "ttft<=2000ms tpot<=50ms". */
export function formatSlo(slo: SloSpec): string {
  const parts: string[] = []
  if (slo.ttftMs !== undefined) parts.push(`ttft<=${slo.ttftMs}ms`)
  if (slo.tpotMs !== undefined) parts.push(`tpot<=${slo.tpotMs}ms`)
  if (slo.e2eMs !== undefined) parts.push(`e2e<=${slo.e2eMs}ms`)
  return parts.join(' ')
}

/**
 * TPOT of one request: (E2E - TTFT) / (outputTokens - 1); null when it has <= 1 output token or no
 * timings (the first token's time is TTFT, so one token has no per-output-token time).
 */
export function requestTpotMs(request: RequestRecord): number | null {
  if (request.ttftMs === null || request.e2eMs === null || request.outputTokens <= 1) return null
  return (request.e2eMs - request.ttftMs) / (request.outputTokens - 1)
}

/**
 * Whether one request met every threshold of the SLO. A failed request never does; a request without a
 * first token fails a TTFT/E2E threshold. A request with <= 1 output token has no TPOT and passes the TPOT
 * threshold (vLLM's goodput convention: its TPOT counts as 0).
 */
export function meetsSlo(request: RequestRecord, slo: SloSpec): boolean {
  if (request.error !== null) return false
  if (slo.ttftMs !== undefined && (request.ttftMs === null || request.ttftMs > slo.ttftMs)) return false
  if (slo.e2eMs !== undefined && (request.e2eMs === null || request.e2eMs > slo.e2eMs)) return false
  if (slo.tpotMs !== undefined) {
    const tpot = requestTpotMs(request)
    if (tpot !== null && tpot > slo.tpotMs) return false
  }
  return true
}
