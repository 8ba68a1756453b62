import {CapplanCommand} from '../cli/base-command.js'
import {planFlags} from '../cli/flags/plan.js'
import {isSearch, planPricing, searchFlags, searchFormat} from '../cli/flags/search.js'
import type {PlanResult} from '../cost/plan.js'
import type {SearchResult} from '../planner/search.js'
import {renderPlanTable} from '../report/render/plan-table.js'
import {planFromFlags} from '../services/plan/options.js'

export default class Plan extends CapplanCommand<typeof Plan> {
  static override summary = 'Turn a throughput and a GPU price into monthly cost, GPUs needed and the crossover vs API prices.'

  static override description = `No measurement needed: give the throughput one replica sustains (total input + output tokens/s, or output tokens/s with --output-throughput, converted at --io-ratio: total = output x (r + 1) for r:1), what a GPU-hour costs, and a monthly or daily token volume (total tokens).

Formulas: replica $/month = $/GPU-hour x GPUs x hours; capacity = tok/s x 3600 x hours x utilization; replicas = ceil(volume / capacity); API $/1M at r:1 = (r x input + output) / (r + 1). The crossover is computed on the step function of whole replicas: the volume above which self-hosting is cheaper at every larger volume, or "never" when a replica's cost per token is not below the API price. Energy (owned GPUs, with --kwh-price) = W x GPUs x hours x PUE / 1000 x $/kWh, shown beside the self-hosted cost, not added to it.`

  static override examples = [
    {
      description: "Seed 000's Llama 3.1 70B replica against GPT-4o and Claude 3.5 Sonnet at 100M tokens/month",
      command: '<%= config.bin %> <%= command.id %> --throughput 25 --gpus 1 --gpu-price 2.5 --hours-per-month 720 --volume 100M --api gpt-4o,claude-3.5-sonnet',
    },
    {
      description: 'An 8-GPU H100 replica at spot price, 3:1 input:output, 100M tokens a day',
      command: '<%= config.bin %> <%= command.id %> --throughput 2400 --gpus 8 --gpu h100-sxm --pricing spot --daily-volume 100M --io-ratio 3:1',
    },
    {
      description: "Reproduce a seed's own prices (variants) and add energy for owned GPUs",
      command: '<%= config.bin %> <%= command.id %> --throughput 25 --gpu a100-80gb-sxm --pricing spot --volume 100M --api gpt-4o@seed-000 --kwh-price 0.12 --pue 1.3',
    },
    {
      description: 'Search the cheapest deployment of Llama 3.1 70B that meets the SLO (MEASURED / SCALED / ESTIMATED, ranked by $/month)',
      command:
        '<%= config.bin %> <%= command.id %> --model llama-3.1-70b --workload chat --daily-volume 500M --slo ttft=1s,tpot=40ms --traffic diurnal:3 --gpus-available h100-sxm,h200,l40s --max-gpus 16 --pricing on-demand,reserved,owned',
    },
  ]

  static override flags = {...planFlags, ...searchFlags}

  public async run(): Promise<PlanResult | SearchResult> {
    // --- issue 14: --model without a throughput searches deployments (src/services/search); the rest is plan as before.
    const {workload, slo, 'gpus-available': gpusAvailable, 'max-gpus': maxGpus, results, 'show-pruned': showPruned, ...plan} = this.flags
    if (isSearch(plan)) {
      // loaded only for the search: plain `plan` starts as fast as before
      const {searchFromFlags} = await import('../services/search/search.js')
      const {renderSearch} = await import('../report/render/search.js')
      const format = searchFormat(plan.format)
      const search = await searchFromFlags(
        {
          model: plan.model!,
          workload,
          slo,
          traffic: plan.traffic,
          headroom: plan.headroom,
          'min-replicas': plan['min-replicas'],
          'scale-step': plan['scale-step'],
          'gpus-available': gpusAvailable,
          'max-gpus': maxGpus,
          pricing: plan.pricing,
          results,
          volume: plan.volume,
          'daily-volume': plan['daily-volume'],
          'hours-per-month': plan['hours-per-month'],
          'kwh-price': plan['kwh-price'],
          pue: plan.pue,
          'colo-kw-month': plan['colo-kw-month'],
          'ops-overhead': plan['ops-overhead'],
          'cost-of-capital': plan['cost-of-capital'],
        },
        {profilesDir: plan.profiles, capplanVersion: this.config.version},
      )
      if (!this.jsonEnabled()) this.log(renderSearch(search, format, {showPruned: showPruned === true}).replace(/\n$/, ''))
      return search
    }
    const pricing = planPricing(this.flags)
    // --- end of the search block.
    // With a throughput, --format is the weight format (--weight-format says it explicitly).
    const {format, ...rest} = plan
    const weightFormat = plan['weight-format'] ?? format
    const result = await planFromFlags({...rest, pricing, ...(weightFormat === undefined ? {} : {'weight-format': weightFormat})}, plan.profiles)
    if (!this.jsonEnabled()) this.log(renderPlanTable(result))
    return result
  }
}
