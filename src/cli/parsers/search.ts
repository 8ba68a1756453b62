/**
 * The text of `capplan plan --model`'s search flags -> values: --pricing (a list of choices, owned included),
 * --gpus-available (GPU profile ids), --format (an output format). Each bad value is INVALID_INPUT (exit 3)
 * naming the flag with a valid example. Whether an id exists is the service's check (the profile store).
 */

import type {PricingChoice} from '../../cost/plan-input.js'
import {pricingChoices} from '../../cost/plan-input.js'
import {invalidInput} from '../../lib/errors.js'

export const searchFormats = ['table', 'md', 'csv', 'html', 'json'] as const
export type SearchFormat = (typeof searchFormats)[number]

/** --format of the search: table, md, csv, html or json. */
export function parseSearchFormat(text: string): SearchFormat {
  const format = text.trim().toLowerCase()
  if (!(searchFormats as readonly string[]).includes(format)) {
    throw invalidInput(`--format "${text}" is not an output format of the search.`, `Use ${searchFormats.join(', ')} (a weight format such as AWQ goes with --throughput).`)
  }
  return format as SearchFormat
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
