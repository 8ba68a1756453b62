/**
 * Text -> value for bench's workload-shape flags: length distributions (--input-dist / --output-dist) and
 * plain positive numbers (--burstiness, --replay-speed). Every error is INVALID_INPUT naming the flag and
 * showing a valid value. A histogram file is only named here; services/bench reads it.
 */

import {invalidInput} from '../../lib/errors.js'
import type {LengthDistSpec} from '../../loadgen/lengths.js'

const DIST_FORMS = 'fixed:N, uniform:MIN,MAX, normal:MEAN,STDEV[,MIN,MAX], lognormal:MEAN,STDEV[,MIN,MAX] or hist:FILE'
const NUMBER = /^\d*\.?\d+(?:e[+-]?\d+)?$/i

/** Bounds of normal/lognormal without MIN,MAX: 1 .. mean + 4 stdev (rounded up). */
export function defaultDistBounds(mean: number, stdev: number): {min: number; max: number} {
  return {min: 1, max: Math.max(1, Math.ceil(mean + 4 * stdev))}
}

export function parseLengthDist(text: string, flagName: string): LengthDistSpec {
  const trimmed = text.trim()
  const colon = trimmed.indexOf(':')
  const kind = (colon < 0 ? trimmed : trimmed.slice(0, colon)).toLowerCase()
  const rest = colon < 0 ? '' : trimmed.slice(colon + 1)
  const example = `e.g. ${flagName} normal:512,128 or ${flagName} uniform:128,1024`
  if (kind === 'hist' || kind === 'histogram') {
    if (rest.trim() === '') throw invalidInput(`${flagName} ${text}: hist needs a file, hist:FILE.`, `e.g. ${flagName} hist:lengths.csv (lines "tokens,weight").`)
    return {kind: 'histogram-file', file: rest.trim()}
  }
  const items = rest.split(',').map((item) => item.trim())
  const numbers = items.map((item) => (NUMBER.test(item) ? Number(item) : Number.NaN))
  const bad = items.findIndex((item, i) => !Number.isFinite(numbers[i]!) || item === '')
  if (!['fixed', 'uniform', 'normal', 'lognormal'].includes(kind) || colon < 0) {
    throw invalidInput(`${flagName}: cannot read "${text}" as a length distribution.`, `Write one of ${DIST_FORMS}; ${example}.`)
  }
  if (bad >= 0) throw invalidInput(`${flagName} ${text}: "${items[bad]}" is not a non-negative number.`, `Write one of ${DIST_FORMS}; ${example}.`)
  const whole = (value: number, what: string) => {
    if (!Number.isInteger(value) || value < 1) throw invalidInput(`${flagName} ${text}: ${what} must be a whole number of tokens >= 1, got ${value}.`, example)
    return value
  }
  const count = (want: number[], form: string) => {
    if (!want.includes(numbers.length)) throw invalidInput(`${flagName} ${text}: ${kind} takes ${form}.`, example)
  }
  if (kind === 'fixed') {
    count([1], 'one length, fixed:N')
    return {kind: 'fixed', tokens: whole(numbers[0]!, 'N')}
  }
  if (kind === 'uniform') {
    count([2], 'two lengths, uniform:MIN,MAX')
    const min = whole(numbers[0]!, 'MIN')
    const max = whole(numbers[1]!, 'MAX')
    if (min > max) throw invalidInput(`${flagName} ${text}: MIN ${min} is above MAX ${max}.`, example)
    return {kind: 'uniform', min, max}
  }
  count([2, 4], `MEAN,STDEV or MEAN,STDEV,MIN,MAX (${kind}:512,128,16,2048)`)
  const mean = numbers[0]!
  const stdev = numbers[1]!
  if (!(mean > 0)) throw invalidInput(`${flagName} ${text}: MEAN must be above 0.`, example)
  if (kind === 'lognormal' && !(stdev > 0)) throw invalidInput(`${flagName} ${text}: a lognormal needs STDEV above 0.`, example)
  const bounds = numbers.length === 4 ? {min: whole(numbers[2]!, 'MIN'), max: whole(numbers[3]!, 'MAX')} : defaultDistBounds(mean, stdev)
  if (bounds.min > bounds.max) throw invalidInput(`${flagName} ${text}: MIN ${bounds.min} is above MAX ${bounds.max}.`, example)
  return {kind: kind as 'normal' | 'lognormal', mean, stdev, ...bounds}
}

/** A positive finite number (--burstiness 0.5, --replay-speed 2). */
export function parsePositiveNumber(text: string, flagName: string, example: string): number {
  const value = NUMBER.test(text.trim()) ? Number(text.trim()) : Number.NaN
  if (!(value > 0) || !Number.isFinite(value)) throw invalidInput(`${flagName}: "${text}" is not a positive number.`, `e.g. ${flagName} ${example}`)
  return value
}
