import {Flags} from '@oclif/core'

import {CapplanCommand} from '../cli/base-command.js'
import {DEFAULT_PUE} from '../cost/plan-input.js'
import type {PlanResult} from '../cost/plan.js'
import {pricingTiers} from '../profiles/schema.js'
import {renderPlanTable} from '../report/render/plan-table.js'
import {planFromFlags} from '../services/plan/options.js'

// Numeric flags are strings parsed by src/cli/parsers/cost.ts so a bad value is INVALID_INPUT (exit 3) naming the
// flag with an example, rather than oclif's generic parse error (exit 2).
export default class Plan extends CapplanCommand<typeof Plan> {
  static override summary = 'Turn a throughput and a GPU price into monthly cost, GPUs needed and the crossover vs API prices.'

  static override description = `No measurement needed: give the throughput one replica sustains (total input + output tokens/s, or output tokens/s with --output-throughput, converted at --io-ratio: total = output x (r + 1) for r:1), what a GPU-hour costs, and a monthly or daily token volume (total tokens).

Formulas: replica $/month = $/GPU-hour x GPUs x hours; capacity = tok/s x 3600 x hours x utilization; replicas = ceil(volume / capacity); API $/1M at r:1 = (r x input + output) / (r + 1). The crossover is computed on the step function of whole replicas: the volume above which self-hosting is cheaper at every larger volume, or "never" when a replica's cost per token is not below the API price. Energy (owned GPUs, with --kwh-price) = W x GPUs x hours x PUE / 1000 x $/kWh, shown beside the self-hosted cost, not added to it.`

  static override examples = [
    {
      description: "Seed 000's Llama 3.1 70B replica against GPT-4o and Claude 3.5 Sonnet at 100M tokens/month",
      command:
        '<%= config.bin %> <%= command.id %> --throughput 25 --gpus 1 --gpu-price 2.5 --hours-per-month 720 --volume 100M --api gpt-4o,claude-3.5-sonnet',
    },
    {
      description: 'An 8-GPU H100 replica at spot price, 3:1 input:output, 100M tokens a day',
      command: '<%= config.bin %> <%= command.id %> --throughput 2400 --gpus 8 --gpu h100-sxm --pricing spot --daily-volume 100M --io-ratio 3:1',
    },
    {
      description: "Reproduce a seed's own prices (variants) and add energy for owned GPUs",
      command:
        '<%= config.bin %> <%= command.id %> --throughput 25 --gpu a100-80gb-sxm --pricing spot --volume 100M --api gpt-4o@seed-000 --kwh-price 0.12 --pue 1.3',
    },
  ]

  static override flags = {
    throughput: Flags.string({
      char: 't',
      summary: 'Total (input + output) tokens/s ONE replica sustains at your latency target, e.g. 25.',
      helpValue: 'TOK/S',
    }),
    'output-throughput': Flags.string({
      summary: 'Output tokens/s of one replica; total = output x (r + 1) at --io-ratio r:1.',
      helpValue: 'TOK/S',
    }),
    gpus: Flags.string({summary: 'GPUs per replica (default 1).', helpValue: 'N'}),
    'gpu-price': Flags.string({summary: '$ per GPU-hour, e.g. 2.5.', helpValue: 'USD'}),
    gpu: Flags.string({summary: 'GPU profile id whose price to use (see `capplan profiles list --kind gpu`), e.g. h100-sxm.', helpValue: 'ID'}),
    pricing: Flags.option({options: pricingTiers, summary: 'Price tier of the --gpu profile (default on-demand).'})(),
    'hours-per-month': Flags.string({summary: 'Hours in a month: 730 (365/12 days, default) or 720 (30 days, as seed 000).', helpValue: 'H'}),
    utilization: Flags.string({summary: 'Fraction of the month a replica runs at its throughput, in (0, 1] (default 1).', helpValue: 'U'}),
    volume: Flags.string({summary: 'Total tokens per month: 100M, 1.5B, 250k, 2e9.', helpValue: 'TOKENS'}),
    'daily-volume': Flags.string({summary: 'Total tokens per day (per month = per day x hours / 24).', helpValue: 'TOKENS'}),
    'io-ratio': Flags.string({summary: 'Input:output tokens, e.g. 3:1 (default 1:1, what seed 000 averages assume).', helpValue: 'IN:OUT'}),
    api: Flags.string({summary: 'Comma-separated API ids, id@variant for a quoted price (default: every API profile).', helpValue: 'IDS'}),
    'peak-factor': Flags.string({summary: 'Peak / average load (>= 1): also size the fleet for the peak.', helpValue: 'X'}),
    'kwh-price': Flags.string({summary: 'Owned GPUs: $ per kWh; adds the energy cost.', helpValue: 'USD'}),
    'power-watts': Flags.string({summary: 'Average power per GPU in W (default: the --gpu profile TDP, an upper bound).', helpValue: 'W'}),
    pue: Flags.string({summary: `Power usage effectiveness (default ${DEFAULT_PUE} = GPU power only; data centers ~1.1-1.5).`, helpValue: 'PUE'}),
  }

  public async run(): Promise<PlanResult> {
    const result = await planFromFlags(this.flags, this.flags.profiles)
    if (!this.jsonEnabled()) this.log(renderPlanTable(result))
    return result
  }
}
