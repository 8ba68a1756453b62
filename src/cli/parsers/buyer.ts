/**
 * The flags of the buyer's questions, as text -> values: --traffic (a built-in shape or a file of hourly
 * volumes, read here), --cache-hit, --compare, fractions for --ops-overhead / --cost-of-capital. Each bad value
 * is INVALID_INPUT (exit 3) naming the flag with a valid example; the rules BETWEEN flags are
 * cost/plan-input.ts's.
 */

import {readFileSync} from 'node:fs'

import type {CompareSpec} from '../../cost/comparison.js'
import {parseTrafficText, shapeProfile, trafficShapes, type TrafficProfile, type TrafficShapeName} from '../../cost/traffic.js'
import {invalidInput} from '../../lib/errors.js'
import {parseNonNegative, parsePositiveNumber} from './numbers.js'

const shapeList = 'flat, business-hours[:RATIO], diurnal[:RATIO]'

/**
 * --traffic diurnal:3 | business-hours | flat | FILE. A shape's ratio is peak / trough (>= 1); anything that is
 * not a shape is a file: one number per line, `hour,tokens` with a header, or a JSON array (24 or 168 hours).
 */
export function parseTrafficFlag(text: string): TrafficProfile {
  const trimmed = text.trim()
  const [name, ratioText, ...rest] = trimmed.split(':')
  if ((trafficShapes as readonly string[]).includes(name!)) {
    if (rest.length > 0) throw invalidInput(`--traffic "${text}" has more than one ratio.`, `Give ${shapeList}, e.g. --traffic diurnal:3.`)
    let ratio: number | null = null
    if (ratioText !== undefined) {
      ratio = parsePositiveNumber(ratioText, 'traffic', 'diurnal:3')
      if (ratio < 1) throw invalidInput(`--traffic ${trimmed}: the ratio is peak / trough, at least 1 (got ${ratioText}).`, 'e.g. --traffic diurnal:3.')
    }
    return shapeProfile(name as TrafficShapeName, ratio)
  }
  let fileText: string
  try {
    fileText = readFileSync(trimmed, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error)
    throw invalidInput(
      `--traffic "${text}" is not a shape (${shapeList}) and not a readable file (${code}).`,
      'Give a shape, e.g. --traffic diurnal:3, or the path of a CSV/JSON file of 24 or 168 hourly token counts.',
    )
  }
  return parseTrafficText(fileText, trimmed)
}

/** A share in [0, 1], given as a fraction (0.4) or a percentage (40%). */
export function parseShare(text: string, flagName: string, example: string): number {
  const trimmed = text.trim()
  const percent = trimmed.endsWith('%')
  const value = parseNonNegative(percent ? trimmed.slice(0, -1) : trimmed, flagName) / (percent ? 100 : 1)
  if (value > 1) throw invalidInput(`--${flagName} must be at most 1 (100%) (got "${text}").`, `e.g. --${flagName} ${example}.`)
  return value
}

/** A non-negative rate that may exceed 1 (an overhead of 120% is possible), as a fraction or a percentage. */
export function parseRate(text: string, flagName: string): number {
  const trimmed = text.trim()
  const percent = trimmed.endsWith('%')
  return parseNonNegative(percent ? trimmed.slice(0, -1) : trimmed, flagName) / (percent ? 100 : 1)
}

/** --compare same-model | all | quality>=SCORE:BENCHMARK (the benchmark checked against the profiles later). */
export function parseCompare(text: string): CompareSpec {
  const trimmed = text.trim()
  if (trimmed === 'same-model' || trimmed === 'all') return {kind: trimmed}
  const match = /^quality\s*>=\s*([0-9.]+)\s*:\s*([a-z0-9][a-z0-9._-]*)$/i.exec(trimmed)
  if (match === null) {
    throw invalidInput(
      `--compare "${text}" is not a comparison set.`,
      'Give same-model (the hosted twins), all (every API), or quality>=SCORE:BENCHMARK, e.g. --compare quality>=60:gpqa-diamond.',
    )
  }
  const minScore = parseNonNegative(match[1]!, 'compare')
  return {kind: 'quality', minScore, benchmark: match[2]!.toLowerCase()}
}
