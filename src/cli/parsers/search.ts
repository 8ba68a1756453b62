/**
 * The text of `capplan plan --model`'s search flags -> values: --traffic (a built-in shape, or a file of hourly
 * volumes, read here), --pricing (a list of tiers, owned included), --gpus-available (GPU profile ids). Each bad
 * value is INVALID_INPUT (exit 3) naming the flag with a valid example. Whether an id exists is the service's
 * check (the profile store).
 */

import {readFileSync} from 'node:fs'

import {parseTrafficText, shapeProfile, trafficShapes, type TrafficProfile, type TrafficShapeName} from '../../cost/traffic.js'
import {invalidInput} from '../../lib/errors.js'
import {pricingChoices, type PricingChoice} from '../../planner/search.js'
import {parsePositiveNumber} from './numbers.js'

const shapeList = 'flat, business-hours[:RATIO], diurnal[:RATIO]'

/** --traffic diurnal:3 | business-hours | flat | FILE (24 or 168 hourly token counts, CSV or JSON). */
export function parseTrafficSpec(text: string): TrafficProfile {
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
  return parseTrafficText(fileText, `--traffic ${trimmed}`)
}

function list(text: string): string[] {
  return [
    ...new Set(
      text
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== ''),
    ),
  ]
}

/** --pricing on-demand,reserved,owned -> the tiers (each one of on-demand, spot, reserved, owned). */
export function parsePricingList(text: string): PricingChoice[] {
  const items = list(text)
  if (items.length === 0) throw invalidInput('--pricing is empty.', `Give one or more of ${pricingChoices.join(', ')}, e.g. --pricing on-demand,reserved.`)
  for (const item of items) {
    if (!(pricingChoices as readonly string[]).includes(item)) {
      throw invalidInput(`--pricing: "${item}" is not a pricing tier.`, `Use ${pricingChoices.join(', ')}, e.g. --pricing on-demand,reserved,owned.`)
    }
  }
  return items as PricingChoice[]
}

/** --gpus-available h100-sxm,h200,l40s -> ids. */
export function parseGpuList(text: string): string[] {
  const items = list(text)
  if (items.length === 0)
    throw invalidInput('--gpus-available names no GPU.', 'Give GPU profile ids, e.g. --gpus-available h100-sxm,h200 (see `capplan profiles list --kind gpu`).')
  return items
}
