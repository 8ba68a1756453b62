/**
 * `capplan plan`'s flags: the cost flags as flags that parse to values (./cost.ts, costFlag: the same checks
 * and messages as cli/parsers/cost.ts, a bad value INVALID_INPUT, exit 3, naming the flag with an example), so
 * services/plan takes values (PlanFlagValues) and applies the rules between them.
 */

import {Flags} from '@oclif/core'

import {DEFAULT_PUE} from '../../cost/plan-input.js'
import {pricingFlag, quantFlag} from './choices.js'
import {buyerFlags, costFlag} from './cost.js'

export const planFlags = {
  throughput: costFlag.throughput({
    char: 't',
    summary: 'Total (input + output) tokens/s ONE replica sustains at your latency target, e.g. 25.',
    helpValue: 'TOK/S',
  }),
  'output-throughput': costFlag['output-throughput']({
    summary: 'Output tokens/s of one replica; total = output x (r + 1) at --io-ratio r:1.',
    helpValue: 'TOK/S',
  }),
  gpus: costFlag.gpus({summary: 'GPUs per replica (default 1).', helpValue: 'N'}),
  'gpu-price': costFlag['gpu-price']({summary: '$ per GPU-hour, e.g. 2.5.', helpValue: 'USD'}),
  gpu: Flags.string({summary: 'GPU profile id whose price to use (see `capplan profiles list --kind gpu`), e.g. h100-sxm.', helpValue: 'ID'}),
  pricing: pricingFlag({summary: 'Price of the --gpu profile: on-demand (default), spot, reserved, or owned (purchase + power + colo + ops).'}),
  'hours-per-month': costFlag['hours-per-month']({summary: 'Hours in a month: 730 (365/12 days, default) or 720 (30 days, as seed 000).', helpValue: 'H'}),
  utilization: costFlag.utilization({summary: 'Fraction of the month a replica runs at its throughput, in (0, 1] (default 1).', helpValue: 'U'}),
  volume: costFlag.volume({summary: 'Total tokens per month: 100M, 1.5B, 250k, 2e9.', helpValue: 'TOKENS'}),
  'daily-volume': costFlag['daily-volume']({summary: 'Total tokens per day (per month = per day x hours / 24).', helpValue: 'TOKENS'}),
  'io-ratio': costFlag['io-ratio']({summary: 'Input:output tokens, e.g. 3:1 (default 1:1, what seed 000 averages assume).', helpValue: 'IN:OUT'}),
  api: costFlag.api({summary: 'Comma-separated API ids, id@variant for a quoted price (default: every API profile).', helpValue: 'IDS'}),
  'peak-factor': costFlag['peak-factor']({summary: 'Peak / average load (>= 1): also size the fleet for the peak.', helpValue: 'X'}),
  'kwh-price': costFlag['kwh-price']({summary: 'Owned GPUs: $ per kWh; adds the energy cost.', helpValue: 'USD'}),
  'power-watts': costFlag['power-watts']({summary: 'Average power per GPU in W (default: the --gpu profile TDP, an upper bound).', helpValue: 'W'}),
  pue: costFlag.pue({summary: `Power usage effectiveness (default ${DEFAULT_PUE} = GPU power only; 1.2 with --pricing owned).`, helpValue: 'PUE'}),
  model: Flags.string({summary: 'The model served (a model profile id): finds its hosted twins and the quality gaps to closed APIs.', helpValue: 'ID'}),
  quant: quantFlag({summary: 'The quantization served, for its expected quality loss (with --model).'}),
  'weight-format': Flags.string({summary: 'The weight format, e.g. Q4_K_M, Q4_0, AWQ, GPTQ-Int4, FP8 (default for int4 Q4_K_M, int8 Q8_0).', helpValue: 'FORMAT'}),
  ...buyerFlags,
}
