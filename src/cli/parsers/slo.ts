/** Text -> value for --slo: "ttft=2s,tpot=50ms,e2e=10s" -> per-metric thresholds in milliseconds. */

import {invalidInput} from '../../lib/errors.js'
import type {SloSpec} from '../../results/schema.js'

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
      throw invalidInput(`${flagName}: cannot read "${part}".`, `Write metric=value with a unit, e.g. ${flagName} ${example} (metrics: ttft, tpot, e2e; units: ms, s).`)
    }
    const name = match[1]!.toLowerCase()
    if (!(name in sloKeys)) {
      throw invalidInput(`${flagName}: unknown metric "${match[1]}" in "${part}".`, `Use ttft, tpot or e2e, e.g. ${flagName} ${example}`)
    }
    const unit = match[3]?.toLowerCase()
    if (unit === undefined) {
      throw invalidInput(`${flagName}: "${part}" has no unit.`, `Add ms or s, e.g. ${name}=${match[2]}ms or ${name}=${match[2]}s.`)
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
