/**
 * `capplan plan --model`'s flags (the deployment search, when --model comes without --throughput): flags that
 * parse to values (src/cli/parsers/search.ts), merged over plan's own. Three are shared with plan and mean
 * one thing each: --model (the search's model, or the model a given throughput serves), --pricing (the search
 * takes a LIST; plan without the search one choice: planPricing), --format (the search's output format, or
 * the weight format of a given throughput: searchFormat). --traffic, --headroom, --min-replicas, --scale-step
 * and the owned-hardware flags are plan's, and the search uses them as plan does.
 */

import {Flags} from '@oclif/core'

import type {PricingChoice} from '../../cost/plan-input.js'
import {invalidInput} from '../../lib/errors.js'
import {parseGpuList, parsePricingList, parseSearchFormat, searchFormats, type SearchFormat} from '../parsers/search.js'
import {sloFlag} from './cost.js'
import {capplanFlag, integerFlag} from './custom.js'

export {searchFormats, type SearchFormat}

export const searchFlags = {
  model: Flags.string({
    summary:
      'A model profile id. Without --throughput: SEARCH its deployments (GPU x count x quant x engine x pricing, ranked by $/month); with it: the model served (hosted twins, quality gaps).',
    helpValue: 'ID',
  }),
  format: Flags.string({
    summary: 'The search (--model alone): output format table (default), md, csv, html, json. With --throughput: the weight format, e.g. Q4_K_M, AWQ, FP8.',
    helpValue: 'FORMAT',
  }),
  pricing: capplanFlag(parsePricingList)({
    summary: 'on-demand (default), spot, reserved, or owned (purchase + power + colo + ops); the search takes a comma list, e.g. on-demand,reserved,owned.',
    helpValue: 'TIER',
  }),
  workload: Flags.string({summary: 'The search: the workload profile (lengths, default SLO), default chat.', helpValue: 'ID'}),
  slo: sloFlag({summary: "The search: latency targets, e.g. ttft=1s,tpot=40ms (default: the workload profile's p95 SLO).", helpValue: 'SPEC'}),
  'gpus-available': capplanFlag(parseGpuList)({summary: 'The search: GPU profile ids to search (default: every GPU profile but cpu).', helpValue: 'IDS'}),
  'max-gpus': integerFlag({min: 1, max: 64, summary: 'The search: most GPUs in one replica (counts 1..N are searched, default 8).', helpValue: 'N'}),
  results: Flags.string({summary: 'The search: a directory of result files (capplan or imported peers); a matching one makes its candidate MEASURED.', helpValue: 'DIR'}),
  'show-pruned': Flags.boolean({summary: 'The search: also list the candidates refused and why (does not fit, invalid TP, SLO unreachable, no price, beaten).'}),
}

/** The flags only the search reads. */
export const searchOnlyFlags = ['workload', 'slo', 'gpus-available', 'max-gpus', 'results', 'show-pruned'] as const

/** Whether plan searches: --model without a throughput. */
export const isSearch = (flags: {model?: string | undefined; throughput?: number | undefined; 'output-throughput'?: number | undefined}) =>
  flags.model !== undefined && flags.throughput === undefined && flags['output-throughput'] === undefined

/** plan with a throughput: one --pricing choice, and none of the search's own flags. */
export function planPricing(flags: Record<string, unknown> & {pricing?: PricingChoice[] | undefined}): PricingChoice | undefined {
  const given = searchOnlyFlags.filter((name) => flags[name] !== undefined && flags[name] !== false)
  if (given.length > 0) {
    throw invalidInput(
      `${given.map((name) => `--${name}`).join(', ')} ${given.length === 1 ? 'belongs' : 'belong'} to the deployment search (--model without --throughput).`,
      'Drop --throughput to search deployments of --model, or drop those flags to cost the throughput you have.',
    )
  }
  const {pricing} = flags
  if (pricing === undefined) return undefined
  if (pricing.length !== 1)
    throw invalidInput(
      `--pricing ${pricing.join(',')}: with --throughput, plan takes one choice.`,
      'e.g. --gpu h100-sxm --pricing spot, or drop --throughput to search several.',
    )
  return pricing[0]
}

/** The search's --format: an output format (the weight format belongs to a given throughput). */
export const searchFormat = (text: string | undefined): SearchFormat => (text === undefined ? 'table' : parseSearchFormat(text))
