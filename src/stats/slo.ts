import {invalidInput} from '../lib/errors.js'
import type {RequestRecord, SloSpec} from '../results/schema.js'

export type {SloSpec} from '../results/schema.js'

const sloKeys = {ttft: 'ttftMs', tpot: 'tpotMs', e2e: 'e2eMs'} as const
type SloKey = keyof typeof sloKeys

const example = 'ttft=2s,tpot=50ms,e2e=10s'

/**
 * Parse "ttft=2s,tpot=50ms,e2e=10s" into milliseconds. Every value needs a unit (ms or s): a bare "50"
 * could mean either, and guessing wrong makes every request pass or fail.
 * @param flagName the flag the text came from, named in the error (e.g. "--slo")
 */
export function parseSlo(text: string, flagName: string): SloSpec {
  const slo: SloSpec = {}
  const parts = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
  if (parts.length === 0) {
    throw invalidInput(`${flagName} is empty.`, `Give one or more thresholds, e.g. ${flagName} ${example}`)
  }
  for (const part of parts) {
    const match = /^([a-z0-9]+)\s*=\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*(ms|s)?$/i.exec(part)
    if (!match) {
      throw invalidInput(
        `${flagName}: cannot read "${part}".`,
        `Write metric=value with a unit, e.g. ${flagName} ${example} (metrics: ttft, tpot, e2e; units: ms, s).`,
      )
    }
    const name = match[1]!.toLowerCase()
    if (!(name in sloKeys)) {
      throw invalidInput(
        `${flagName}: unknown metric "${match[1]}" in "${part}".`,
        `Use ttft, tpot or e2e, e.g. ${flagName} ${example}`,
      )
    }
    const unit = match[3]?.toLowerCase()
    if (unit === undefined) {
      throw invalidInput(
        `${flagName}: "${part}" has no unit.`,
        `Add ms or s, e.g. ${name}=${match[2]}ms or ${name}=${match[2]}s.`,
      )
    }
    const value = Number(match[2]) * (unit === 's' ? 1000 : 1)
    if (!(value > 0) || !Number.isFinite(value)) {
      throw invalidInput(`${flagName}: "${part}" must be greater than 0.`, `e.g. ${flagName} ${example}`)
    }
    const key = sloKeys[name as SloKey]
    if (slo[key] !== undefined) {
      throw invalidInput(`${flagName}: ${name} is given twice.`, `Give each metric once, e.g. ${flagName} ${example}`)
    }
    slo[key] = value
  }
  return slo
}

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
