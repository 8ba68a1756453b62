/**
 * `capplan plan --model`'s flags (the deployment search): flags that parse to values (src/cli/parsers/search.ts),
 * merged into plan's own. --pricing here takes a LIST (owned included); plan without --model takes one tier,
 * planPricingTier says which (or why not).
 */

import {Flags} from '@oclif/core'

import {invalidInput} from '../../lib/errors.js'
import type {PricingChoice} from '../../planner/search.js'
import type {PricingTier} from '../../profiles/schema.js'
import {parseGpuList, parsePricingList, parseTrafficSpec} from '../parsers/search.js'
import {sloFlag} from './cost.js'
import {capplanFlag, integerFlag} from './custom.js'

export const searchFormats = ['table', 'md', 'csv', 'html', 'json'] as const
export type SearchFormat = (typeof searchFormats)[number]

export const searchFlags = {
  model: Flags.string({
    summary: 'Search deployments of this model profile (e.g. llama-3.1-70b): GPU x count x quant x engine x pricing, ranked by monthly cost.',
    helpValue: 'ID',
  }),
  workload: Flags.string({summary: 'With --model: the workload profile (lengths and default SLO), default chat.', helpValue: 'ID'}),
  slo: sloFlag({summary: "With --model: latency targets, e.g. ttft=1s,tpot=40ms (default: the workload profile's p95 SLO).", helpValue: 'SPEC'}),
  traffic: capplanFlag(parseTrafficSpec)({
    summary: 'With --model: the traffic over the day: flat, diurnal[:RATIO], business-hours[:RATIO] or a file of 24/168 hourly token counts.',
    helpValue: 'SHAPE|FILE',
  }),
  'gpus-available': capplanFlag(parseGpuList)({summary: 'With --model: GPU profile ids to search (default: every GPU profile but cpu).', helpValue: 'IDS'}),
  'max-gpus': integerFlag({min: 1, max: 64, summary: 'With --model: most GPUs in one replica (counts 1..N are searched, default 8).', helpValue: 'N'}),
  pricing: capplanFlag(parsePricingList)({
    summary: 'Price tier(s): on-demand, spot, reserved; with --model a comma list that may add owned (default on-demand).',
    helpValue: 'TIERS',
  }),
  results: Flags.string({summary: 'With --model: a directory of result files (capplan or imported peers); a matching one makes its candidate MEASURED.', helpValue: 'DIR'}),
  'show-pruned': Flags.boolean({summary: 'With --model: also list the candidates refused and why (does not fit, invalid TP, SLO unreachable, no price, beaten).'}),
  format: Flags.option({options: searchFormats, summary: 'With --model: table (default), md, csv, html or json.'})(),
}

/** plan without --model: --pricing must be one rented tier (the search flags' list, checked here). */
export function planPricingTier(pricing: readonly PricingChoice[] | undefined): PricingTier | undefined {
  if (pricing === undefined) return undefined
  if (pricing.length !== 1 || pricing[0] === 'owned') {
    throw invalidInput(
      `--pricing ${pricing.join(',')}: without --model, plan takes one tier (on-demand, spot or reserved).`,
      'e.g. --gpu h100-sxm --pricing spot, or add --model ID to search several tiers.',
    )
  }
  return pricing[0] as PricingTier
}
