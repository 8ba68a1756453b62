/**
 * Text -> value for the load generator's flags: request rates, durations, a precision target. The load
 * generator (src/loadgen) takes the values (req/s, ms, fractions), never the flag strings; every error here
 * is INVALID_INPUT naming the flag and showing a valid value.
 */

import {invalidInput} from '../../lib/errors.js'

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

/** Parse "60s", "2m", "1h", "500ms", "1m30s" into ms. Every number needs a unit (a bare "60" is ambiguous). */
export function parseDuration(text: string, flagName: string): number {
  const compact = text.trim().toLowerCase().replace(/\s+/g, '')
  const parts = /^((?:\d*\.?\d+(?:ms|s|m|h))+)$/.exec(compact)
  if (compact.length === 0 || parts === null) {
    throw invalidInput(`${flagName}: cannot read "${text}" as a duration.`, `Write a number with a unit (ms, s, m, h), e.g. ${flagName} 60s or ${flagName} 2m.`)
  }
  const unitMs = {ms: 1, s: 1000, m: 60_000, h: 3_600_000} as const
  let totalMs = 0
  for (const match of compact.matchAll(/(\d*\.?\d+)(ms|s|m|h)/g)) {
    totalMs += Number(match[1]) * unitMs[match[2] as keyof typeof unitMs]
  }
  if (!(totalMs > 0) || !Number.isFinite(totalMs)) {
    throw invalidInput(`${flagName}: "${text}" must be longer than 0.`, `e.g. ${flagName} 60s`)
  }
  return totalMs
}

/** Parse "3%" (or "0.5%") into a fraction 0.03. A percent sign is required: "3" could mean 3% or 300%. */
export function parsePrecision(text: string, flagName: string): number {
  const match = /^\s*(\d*\.?\d+)\s*%\s*$/.exec(text)
  if (match === null) {
    throw invalidInput(`${flagName}: cannot read "${text}" as a percentage.`, `Write it with a percent sign, e.g. ${flagName} 3%.`)
  }
  const percent = Number(match[1])
  if (!(percent > 0 && percent < 100)) {
    throw invalidInput(`${flagName}: ${percent}% is out of range.`, `Use a value between 0% and 100%, e.g. ${flagName} 3%.`)
  }
  return percent / 100
}
