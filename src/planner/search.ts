/**
 * The deployment search behind `capplan plan --model`: every GPU profile x GPU count (TP x PP layout) x
 * quantization x engine x pricing, each candidate's throughput at the SLO from the best source there is —
 * MEASURED (a result file of that exact deployment), SCALED (measured on another GPU, same engine and GPU
 * count: report's what-if), ESTIMATED (the serving ceiling at the SLO's batch x the calibration prior, as a
 * range) — then its fleet (planTraffic), monthly cost and $/1M, pruned with reasons, ranked, the Pareto
 * frontier of cost vs latency, and why the top choice wins. Pure: values and the profile store in, values out.
 */

import {apiMonthlyCost, blendedApiPrice, TOKENS_PER_MILLION} from '../cost/model.js'
import {comparisonSet, quantLossFor, type ApiGroup, type QuantLoss} from '../cost/comparison.js'
import {splitCost} from '../cost/io-split.js'
import {OWNED_DEFAULTS, ownedGpuHour, type OwnershipInput} from '../cost/ownership.js'
import type {PricingChoice} from '../cost/plan-input.js'
import {resolveApiPrice} from '../cost/pricing.js'
import {fleetCosts, hourlyTokens, planTraffic, type TrafficProfile} from '../cost/traffic.js'
import {CapplanError} from '../lib/errors.js'
import {formatTokens, formatUsd} from '../lib/units.js'
import type {GpuProfile, ModelProfile, PricingTier, QuantLevel} from '../profiles/schema.js'
import type {ProfileStore} from '../profiles/store.js'
import type {SloSpec} from '../results/schema.js'
import {hardwareFromProfile, type Hardware} from '../roofline/ceilings.js'
import {DEFAULT_MEMORY_UTILIZATION, DEFAULT_OVERHEAD_GB_PER_GPU} from '../roofline/estimate.js'
import {kvCacheBytesPerElement, resolveFormat, type KvCacheDtype, type ResolvedFormat} from '../roofline/formats.js'
import {GB, fitReplica, parallelLayouts, tensorParallelProblem, tensorParallelValidity, type ParallelLayout} from '../roofline/memory.js'
import {servingCeiling, type ServingCeiling} from '../roofline/serving.js'
import {predict, PRIOR_COVERAGE, type CeilingParts, type EfficiencyPrior, type PriorUpdate, type StepLine} from './calibration.js'

/** Engines the search knows: vLLM and SGLang load the model profile's vLLM (Hugging Face) checkpoint, llama.cpp its GGUF. */
export const knownEngines = ['vllm', 'sglang', 'llamacpp'] as const
export type SearchEngine = (typeof knownEngines)[number]
/** Searched by default; SGLang joins when a result file measured it (--results). */
export const searchEngines: readonly SearchEngine[] = ['vllm', 'llamacpp']

// The pricing choices are plan's own (--pricing: a rental tier or owned).
export {pricingChoices, type PricingChoice} from '../cost/plan-input.js'

export type SourceLabel = 'MEASURED' | 'SCALED' | 'ESTIMATED'

/** Largest batch the SLO search tries on one replica (concurrency in the thousands is a batch like any other). */
export const MAX_SEARCH_BATCH = 8192

/** --pricing owned: what the purchase profile does not say (plan's flags; absent = cost/ownership.ts OWNED_DEFAULTS). */
export interface OwnedChoices {
  usdPerKwh?: number
  pue?: number
  coloUsdPerKwMonth?: number
  opsOverhead?: number
  costOfCapital?: number
}

/** The autoscaled fleet's rules (plan's --headroom, --min-replicas, --scale-step). */
export interface FleetChoices {
  headroom?: number
  minReplicas?: number
  scaleStep?: number
}

/** A capplan result file's operating point at the SLO, for one deployment (the service reads the files). */
export interface MeasuredDeployment {
  file: string
  resultId: string
  model: string
  quant: QuantLevel
  engine: SearchEngine
  gpu: string
  gpus: number
  /** The layout the run used (TP = all its GPUs when the heads allow, as `report` assumes). */
  tp: number
  pp: number
  outputTokensPerSecond: number
  tpotMs: number | null
  ttftMs: number | null
  /** measured / the serving ceiling on its own hardware at its concurrency. */
  efficiency: number | null
  /** The run as a calibration row (the ceiling's parts and the measured seconds per token): updates its engine's prior. */
  calibration: (CeilingParts & {measuredS: number}) | null
  basis: string
}

/** A measured operating point scaled to another GPU of the same count (report --what-if). */
export interface ScaledDeployment {
  file: string
  resultId: string
  model: string
  quant: QuantLevel
  engine: SearchEngine
  fromGpu: string
  gpu: string
  gpus: number
  tp: number
  pp: number
  outputTokensPerSecond: number
  basis: string
}

export interface SearchInput {
  model: ModelProfile
  workload: {id: string; inputTokens: number; outputTokens: number}
  slo: SloSpec
  sloSource: string
  gpus: GpuProfile[]
  /** Most GPUs in one replica (counts 1..maxGpus are searched). */
  maxGpus: number
  quants: readonly QuantLevel[]
  engines: readonly SearchEngine[]
  pricing: readonly PricingChoice[]
  tokensPerMonth: number
  hoursPerMonth: number
  traffic: TrafficProfile
  fleet?: FleetChoices
  owned?: OwnedChoices
  /** The calibration prior per engine and GPU vendor searched (priorKey), updated with the user's measured rows. */
  priors: Record<string, EfficiencyPrior>
  priorUpdates: PriorUpdate[]
  measured: readonly MeasuredDeployment[]
  scaled: readonly ScaledDeployment[]
  /** Notes from loading (unreadable result files, unused ones), carried into the result. */
  notes?: string[]
}

export interface Throughput {
  /** Output tok/s of one replica at the SLO (the point). */
  outputTokensPerSecond: number
  /** The range: equal to the point for MEASURED and SCALED. */
  low: number
  high: number
  /** Sequences in flight per replica at the SLO (ESTIMATED: the largest meeting it; MEASURED: null). */
  batch: number | null
  tpotMs: number | null
  ttftMs: number | null
  /** Share of the replica's time in prefill (the roofline's B x P / cycle), for $/1M input vs output. */
  prefillShare: number
  basis: string
}

export interface Candidate {
  key: string
  gpu: string
  gpuName: string
  gpus: number
  tp: number
  pp: number
  quant: QuantLevel
  format: string
  engine: SearchEngine
  pricing: PricingChoice
  source: SourceLabel
  throughput: Throughput
  usdPerGpuHour: number
  priceSource: string
  replicas: {peak: number; average: number}
  monthlyCost: number
  /** Monthly cost at the range's throughputs (high throughput = low cost). */
  monthlyCostLow: number
  monthlyCostHigh: number
  fleet: 'autoscaled' | 'fixed'
  perMTok: {blended: number; input: number | null; output: number | null}
  quantLoss: QuantLoss | null
  quantLossNote: string | null
  rank: number
  pareto: {tpot: boolean; ttft: boolean}
}

export type PruneReason = 'does-not-fit' | 'invalid-tp' | 'slo-unreachable' | 'no-price' | 'beaten' | 'no-ceiling'

export interface Pruned {
  key: string
  gpu: string
  gpus: number
  tp: number
  pp: number
  quant: QuantLevel | null
  engine: SearchEngine | null
  pricing: PricingChoice | null
  reason: PruneReason
  detail: string
}

export interface ApiOption {
  id: string
  name: string
  group: ApiGroup
  blendedPerMTok: number
  inputPerMTok: number
  outputPerMTok: number
  monthlyCost: number
  qualityGap: string | null
  priceDate: string
}

export interface SearchResult {
  model: {id: string; name: string}
  workload: {id: string; inputTokens: number; outputTokens: number}
  slo: SloSpec
  sloSource: string
  volume: {tokensPerMonth: number; tokensPerDay: number}
  traffic: {label: string; description: string; peakToAverage: number}
  hoursPerMonth: number
  space: {gpus: string[]; maxGpus: number; quants: QuantLevel[]; engines: SearchEngine[]; pricing: PricingChoice[]; deployments: number; candidates: number}
  priors: Record<string, EfficiencyPrior>
  priorUpdates: PriorUpdate[]
  ranked: Candidate[]
  pruned: Pruned[]
  pareto: {tpot: string[]; ttft: string[]}
  apis: {twinModel: string | null; twinNote: string | null; benchmark: string | null; options: ApiOption[]}
  why: string[]
  assumptions: string[]
  notes: string[]
}

interface Deployment {
  gpu: GpuProfile
  hardware: Hardware & {memoryBytesPerGpu: number}
  gpus: number
  layout: ParallelLayout
  quant: QuantLevel
  engine: SearchEngine
  format: ResolvedFormat
  kvCache: KvCacheDtype
}

const deploymentKey = (gpu: string, gpus: number, tp: number, pp: number, quant: QuantLevel | null, engine: SearchEngine | null) =>
  `${gpus}x${gpu} TP${tp}xPP${pp}${quant === null ? '' : ` ${quant}`}${engine === null ? '' : ` ${engine}`}`

/** The weight format each engine loads at a quant level: vLLM the model profile's checkpoint, llama.cpp its GGUF. */
export function engineFormat(model: ModelProfile, quant: QuantLevel, engine: SearchEngine): ResolvedFormat {
  return resolveFormat(model, quant, engine === 'llamacpp' ? 'gguf' : 'vllm')
}

/** The quant-loss profile name of a format (profiles/quant-loss `format`), or null for 16-bit weights. */
export function lossFormatName(model: ModelProfile, quant: QuantLevel, engine: SearchEngine): string | null {
  if (quant === 'fp16') return null
  const source = model.quants[quant]
  if (engine === 'llamacpp') return source.llamacpp.format
  const q = (source.vllm.quantization ?? '').toLowerCase()
  if (q.startsWith('awq')) return 'AWQ-INT4'
  if (q.startsWith('gptq')) return quant === 'int4' ? 'GPTQ-INT4' : 'GPTQ-INT8'
  if (q === 'fp8') return 'FP8'
  if (q === 'compressed-tensors') return quant === 'int8' ? 'INT8-W8A8' : 'GPTQ-INT4'
  return q === '' ? null : q.toUpperCase()
}

/** The layouts an engine runs N GPUs as: vLLM any valid TP x PP; llama.cpp splits layers (TP 1 x PP N). */
function layoutsFor(model: ModelProfile, gpus: number, engine: SearchEngine): ParallelLayout[] {
  if (engine === 'llamacpp') return [{tp: 1, pp: gpus, kv: 'split'}]
  return parallelLayouts(model, gpus)
}

/** The prior of an engine on a vendor's GPUs in SearchInput.priors. */
export const priorKey = (engine: string, vendor: string) => `${engine} on ${vendor}`

export interface SloBatch {
  batch: number
  ceiling: ServingCeiling
  /** Estimated latencies at that batch: the prior's line applied to the ceiling (calibration.ts predict). */
  tpotMs: number
  ttftMs: number
}

/** Estimated TPOT / TTFT / E2E (ms) at a ceiling: the prior's line (k x the roofline's times + c). */
function estimatedLatency(ceiling: ServingCeiling, prior: StepLine, outputTokens: number): {tpotMs: number; ttftMs: number; e2eMs: number} {
  const p = predict(prior, ceiling)
  const tpotMs = p.tpotS * 1000
  const ttftMs = p.ttftS * 1000
  return {tpotMs, ttftMs, e2eMs: ttftMs + tpotMs * outputTokens}
}

function meetsSlo(latency: {tpotMs: number; ttftMs: number; e2eMs: number}, slo: SloSpec): boolean {
  return (
    (slo.tpotMs === undefined || latency.tpotMs <= slo.tpotMs) &&
    (slo.ttftMs === undefined || latency.ttftMs <= slo.ttftMs) &&
    (slo.e2eMs === undefined || latency.e2eMs <= slo.e2eMs)
  )
}

/**
 * The SLO's batch: the largest B <= maxBatch whose estimated TPOT, TTFT and E2E (the prior's line on the
 * ceiling) meet the SLO. TPOT and E2E grow with B (the line's coefficients are >= 0) and TTFT does not depend
 * on it, so a binary search finds it; null when even B = 1 misses (or the hardware has no ceiling).
 */
export function sloBatch(ceilingAt: (batch: number) => ServingCeiling | null, prior: StepLine, slo: SloSpec, outputTokens: number, maxBatch: number): SloBatch | null {
  const check = (batch: number) => {
    const ceiling = ceilingAt(batch)
    if (ceiling === null) return null
    const latency = estimatedLatency(ceiling, prior, outputTokens)
    return {ok: meetsSlo(latency, slo), ceiling, latency}
  }
  const first = check(1)
  if (first === null || !first.ok) return null
  let lo = 1
  let hi = Math.max(1, maxBatch)
  let best = first
  if (hi > 1) {
    const top = check(hi)
    if (top?.ok === true) return {batch: hi, ceiling: top.ceiling, tpotMs: top.latency.tpotMs, ttftMs: top.latency.ttftMs}
  }
  // invariant: lo meets the SLO, hi does not
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    const result = check(mid)!
    if (result.ok) {
      lo = mid
      best = result
    } else hi = mid
  }
  return {batch: lo, ceiling: best.ceiling, tpotMs: best.latency.tpotMs, ttftMs: best.latency.ttftMs}
}

/** A GPU profile's ownership inputs with plan's owned choices (or their defaults); null without a purchase price or power. */
export function ownershipInput(gpu: GpuProfile, hoursPerMonth: number, owned: OwnedChoices = {}): OwnershipInput | null {
  if (gpu.purchase === undefined) return null
  const busyWatts = gpu.power?.busyWatts ?? gpu.tdpWatts
  if (busyWatts === null || busyWatts === undefined) return null
  return {
    usdPerGpu: gpu.purchase.usdPerGpu,
    usefulLifeYears: gpu.purchase.usefulLifeYears,
    residualFraction: gpu.purchase.residualFraction,
    costOfCapital: owned.costOfCapital ?? OWNED_DEFAULTS.costOfCapital.value,
    idleWatts: gpu.power?.idleWatts ?? 0,
    busyWatts,
    powerSource: gpu.power?.source ?? `${gpu.id} TDP`,
    pue: owned.pue ?? OWNED_DEFAULTS.pue.value,
    usdPerKwh: owned.usdPerKwh ?? OWNED_DEFAULTS.usdPerKwh.value,
    coloUsdPerKwMonth: owned.coloUsdPerKwMonth ?? OWNED_DEFAULTS.coloUsdPerKwMonth.value,
    opsOverhead: owned.opsOverhead ?? OWNED_DEFAULTS.opsOverhead.value,
    hoursPerMonth,
    purchaseSource: gpu.purchase.source,
  }
}

/** $/GPU-hour of a pricing choice (owned: busy every hour, as a fixed fleet is), or why there is none. */
export function gpuPrice(gpu: GpuProfile, pricing: PricingChoice, hoursPerMonth: number, owned: OwnedChoices = {}): {usdPerHour: number; source: string} | {reason: string} {
  if (pricing === 'owned') {
    const input = ownershipInput(gpu, hoursPerMonth, owned)
    if (input === null) return {reason: `${gpu.id} has no purchase price (or power) in its profile`}
    const hour = ownedGpuHour(input, 1)
    return {
      usdPerHour: hour.usdPerHour,
      source: `owned: ${formatUsd(input.usdPerGpu)} over ${input.usefulLifeYears} years + power at $${input.usdPerKwh}/kWh x PUE ${input.pue} + colo ${formatUsd(input.coloUsdPerKwMonth)}/kW-month + ops ${input.opsOverhead * 100}%`,
    }
  }
  const price = gpu.prices[pricing as PricingTier]
  if (price === null || price === undefined) return {reason: `${gpu.id} has no ${pricing} price`}
  return {usdPerHour: price.usdPerHour, source: `${gpu.id} ${pricing}: ${price.source}, ${price.date}`}
}

interface FleetCost {
  monthlyCost: number
  peak: number
  average: number
  fleet: 'autoscaled' | 'fixed'
}

/** The fleet for one replica throughput and price: `tokens` is the traffic's hourly tokens (hourlyTokens, once per search). */
function fleetCost(input: SearchInput, tokens: readonly number[], totalTokensPerSecond: number, replicaUsdPerHour: number, owned: boolean): FleetCost {
  const plan = fleetCosts(tokens, {
    replicaTokensPerSecond: totalTokensPerSecond,
    replicaUsdPerHour,
    hoursPerMonth: input.hoursPerMonth,
    ...input.fleet,
  })
  // Owned GPUs are paid every hour: the fleet is the fixed one (sized for the peak). Rented: autoscaled per hour.
  const fleet = owned || plan.fixed.monthlyCost <= plan.autoscaled.monthlyCost ? 'fixed' : 'autoscaled'
  return {monthlyCost: fleet === 'fixed' ? plan.fixed.monthlyCost : plan.autoscaled.monthlyCost, peak: plan.fixed.replicas, average: plan.autoscaled.replicas, fleet}
}

const totalFromOutput = (output: number, input: SearchInput) => (output * (input.workload.inputTokens + input.workload.outputTokens)) / input.workload.outputTokens

/** Every deployment of the space, and the layouts refused for an invalid TP. */
function deployments(input: SearchInput, pruned: Pruned[]): Deployment[] {
  const list: Deployment[] = []
  for (const gpu of input.gpus) {
    if (gpu.memoryGB === null) continue
    const hardware = hardwareFromProfile(gpu) as Hardware & {memoryBytesPerGpu: number}
    for (let gpus = 1; gpus <= input.maxGpus; gpus++) {
      if (gpus > 1 && tensorParallelValidity(input.model, gpus) === 'invalid' && input.engines.includes('vllm')) {
        pruned.push({
          key: deploymentKey(gpu.id, gpus, gpus, 1, null, 'vllm'),
          gpu: gpu.id,
          gpus,
          tp: gpus,
          pp: 1,
          quant: null,
          engine: 'vllm',
          pricing: null,
          reason: 'invalid-tp',
          detail: `${tensorParallelProblem(input.model, gpus)}; searched as TP x PP layouts instead`,
        })
      }
      for (const quant of input.quants) {
        for (const engine of input.engines) {
          let format: ResolvedFormat
          try {
            format = engineFormat(input.model, quant, engine)
          } catch (error) {
            if (error instanceof CapplanError) continue
            throw error
          }
          for (const layout of layoutsFor(input.model, gpus, engine)) list.push({gpu, hardware, gpus, layout, quant, engine, format, kvCache: 'fp16'})
        }
      }
    }
  }
  return list
}

/** The throughput of a deployment at the SLO from its best source, or why it has none. */
function throughputOf(input: SearchInput, d: Deployment): {source: SourceLabel; throughput: Throughput} | {pruned: PruneReason; detail: string} {
  const {model, workload} = input
  const fit = fitReplica({
    model,
    bitsPerWeight: d.format.bitsPerWeight,
    kvBytesPerElement: kvCacheBytesPerElement[d.kvCache],
    memoryBytesPerGpu: d.hardware.memoryBytesPerGpu,
    gpus: d.gpus,
    tp: d.layout.tp,
    pp: d.layout.pp,
    memoryUtilization: DEFAULT_MEMORY_UTILIZATION,
    overheadBytesPerGpu: DEFAULT_OVERHEAD_GB_PER_GPU * GB,
    contextTokens: workload.inputTokens + workload.outputTokens,
  })
  if (!fit.fits) {
    const detail = !fit.weightsFit
      ? `${(fit.weightsBytes / GB).toFixed(1)} GB of ${d.format.label} weights > ${d.gpus} x ${d.hardware.memoryBytesPerGpu / GB} GB x ${DEFAULT_MEMORY_UTILIZATION} - overhead`
      : `the weights fit, not the KV of one ${workload.inputTokens + workload.outputTokens}-token sequence`
    return {pruned: 'does-not-fit', detail}
  }
  const servingInput = {model, format: d.format, kvCache: d.kvCache, hardware: d.hardware, tp: d.layout.tp, pp: d.layout.pp}
  const ceilingAt = (batch: number) => servingCeiling(servingInput, batch, workload.inputTokens, workload.outputTokens)
  const prior = input.priors[priorKey(d.engine, d.gpu.vendor)]
  if (prior === undefined) return {pruned: 'no-ceiling', detail: `no efficiency prior for ${priorKey(d.engine, d.gpu.vendor)}`}
  const found = sloBatch(ceilingAt, prior, input.slo, workload.outputTokens, Math.min(fit.maxSequences, MAX_SEARCH_BATCH))
  const shareOf = (c: ServingCeiling) => (c.batch * c.prefillInCycleS) / c.cycleTimeS

  const measured = input.measured
    .filter(
      (m) => m.model === model.id && m.quant === d.quant && m.engine === d.engine && m.gpu === d.gpu.id && m.gpus === d.gpus && m.tp === d.layout.tp && m.pp === d.layout.pp,
    )
    .sort((a, b) => b.outputTokensPerSecond - a.outputTokensPerSecond)[0]
  const single = found === null ? ceilingAt(1) : null
  const share = found === null ? (single === null ? 0 : shareOf(single)) : shareOf(found.ceiling)
  if (measured !== undefined) {
    return {
      source: 'MEASURED',
      throughput: {
        outputTokensPerSecond: measured.outputTokensPerSecond,
        low: measured.outputTokensPerSecond,
        high: measured.outputTokensPerSecond,
        batch: null,
        tpotMs: measured.tpotMs,
        ttftMs: measured.ttftMs,
        prefillShare: share,
        basis: measured.basis,
      },
    }
  }
  const scaled = input.scaled
    .filter(
      (s) => s.model === model.id && s.quant === d.quant && s.engine === d.engine && s.gpu === d.gpu.id && s.gpus === d.gpus && s.tp === d.layout.tp && s.pp === d.layout.pp,
    )
    .sort((a, b) => b.outputTokensPerSecond - a.outputTokensPerSecond)[0]
  if (scaled !== undefined) {
    return {
      source: 'SCALED',
      throughput: {
        outputTokensPerSecond: scaled.outputTokensPerSecond,
        low: scaled.outputTokensPerSecond,
        high: scaled.outputTokensPerSecond,
        batch: null,
        tpotMs: null,
        ttftMs: null,
        prefillShare: share,
        basis: scaled.basis,
      },
    }
  }
  if (found === null) {
    if (single === null) return {pruned: 'no-ceiling', detail: `${d.gpu.id} has no memory bandwidth in its profile`}
    const one = estimatedLatency(single, prior, workload.outputTokens)
    return {pruned: 'slo-unreachable', detail: `even one sequence: estimated TPOT ${one.tpotMs.toFixed(1)} ms, TTFT ${one.ttftMs.toFixed(0)} ms`}
  }
  const ceiling = found.ceiling.outputTokensPerSecond
  const estimate = predict(prior, found.ceiling)
  return {
    source: 'ESTIMATED',
    throughput: {
      outputTokensPerSecond: estimate.outputTokensPerSecond,
      low: estimate.low,
      high: estimate.high,
      batch: found.batch,
      tpotMs: found.tpotMs,
      ttftMs: found.ttftMs,
      prefillShare: share,
      basis:
        `serving ceiling ${ceiling.toFixed(0)} output tok/s at batch ${found.batch} x efficiency ${estimate.efficiency.toFixed(3)} ` +
        `(the ${prior.group} prior's line, range ${(estimate.low / ceiling).toFixed(3)}-${(estimate.high / ceiling).toFixed(3)}; ${prior.basis})`,
    },
  }
}

function paretoKeys(points: {key: string; cost: number; latency: number | null}[]): string[] {
  const withLatency = points.filter((p): p is {key: string; cost: number; latency: number} => p.latency !== null)
  const sorted = [...withLatency].sort((a, b) => a.cost - b.cost || a.latency - b.latency)
  const frontier: string[] = []
  let bestLatency = Number.POSITIVE_INFINITY
  for (const point of sorted) {
    if (point.latency < bestLatency) {
      frontier.push(point.key)
      bestLatency = point.latency
    }
  }
  return frontier
}

const label = (c: Pick<Candidate, 'gpus' | 'gpu' | 'tp' | 'pp' | 'quant' | 'engine' | 'pricing'>) =>
  `${c.gpus} x ${c.gpu} (TP ${c.tp} x PP ${c.pp}) ${c.quant} ${c.engine} ${c.pricing}`

export function searchDeployments(store: ProfileStore, input: SearchInput): SearchResult {
  const pruned: Pruned[] = []
  const all = deployments(input, pruned)
  const candidates: Candidate[] = []
  const tokens = hourlyTokens(input.traffic, input.tokensPerMonth, input.hoursPerMonth)
  const losses = new Map<string, ReturnType<typeof quantLossFor>>()
  for (const d of all) {
    const key = deploymentKey(d.gpu.id, d.gpus, d.layout.tp, d.layout.pp, d.quant, d.engine)
    const found = throughputOf(input, d)
    const base = {gpu: d.gpu.id, gpus: d.gpus, tp: d.layout.tp, pp: d.layout.pp, quant: d.quant, engine: d.engine}
    if ('pruned' in found) {
      pruned.push({key, ...base, pricing: null, reason: found.pruned, detail: found.detail})
      continue
    }
    const lossName = lossFormatName(input.model, d.quant, d.engine)
    const lossKey = `${lossName} ${d.quant}`
    if (lossName !== null && !losses.has(lossKey)) losses.set(lossKey, quantLossFor(store, lossName, d.quant, input.model.params.totalB))
    const loss = lossName === null ? {loss: null, note: null} : losses.get(lossKey)!
    for (const pricing of input.pricing) {
      const price = gpuPrice(d.gpu, pricing, input.hoursPerMonth, input.owned)
      if ('reason' in price) {
        pruned.push({key: `${key} ${pricing}`, ...base, pricing, reason: 'no-price', detail: price.reason})
        continue
      }
      const owned = pricing === 'owned'
      const replicaUsdPerHour = price.usdPerHour * d.gpus
      const t = found.throughput
      const point = fleetCost(input, tokens, totalFromOutput(t.outputTokensPerSecond, input), replicaUsdPerHour, owned)
      const atHigh = t.high === t.outputTokensPerSecond ? point : fleetCost(input, tokens, totalFromOutput(t.high, input), replicaUsdPerHour, owned)
      const atLow = t.low === t.outputTokensPerSecond ? point : fleetCost(input, tokens, totalFromOutput(t.low, input), replicaUsdPerHour, owned)
      const inputShare = input.workload.inputTokens / (input.workload.inputTokens + input.workload.outputTokens)
      const split = splitCost(point.monthlyCost, input.tokensPerMonth * inputShare, input.tokensPerMonth * (1 - inputShare), t.prefillShare)
      candidates.push({
        key: `${key} ${pricing}`,
        ...base,
        gpuName: d.gpu.name,
        format: d.format.label,
        pricing,
        source: found.source,
        throughput: t,
        usdPerGpuHour: price.usdPerHour,
        priceSource: price.source,
        replicas: {peak: point.peak, average: point.average},
        monthlyCost: point.monthlyCost,
        monthlyCostLow: atHigh.monthlyCost,
        monthlyCostHigh: atLow.monthlyCost,
        fleet: point.fleet,
        perMTok: {
          blended: (point.monthlyCost * TOKENS_PER_MILLION) / input.tokensPerMonth,
          input: split?.inputPerMTok ?? null,
          output: split?.outputPerMTok ?? null,
        },
        quantLoss: loss.loss,
        quantLossNote: loss.note,
        rank: 0,
        pareto: {tpot: false, ttft: false},
      })
    }
  }
  candidates.sort((a, b) => a.monthlyCost - b.monthlyCost || a.monthlyCostHigh - b.monthlyCostHigh || a.key.localeCompare(b.key))
  const leader = candidates[0]
  const ranked: Candidate[] = []
  for (const candidate of candidates) {
    // An ESTIMATED range entirely above the leader's worst case cannot win even at its best efficiency.
    if (leader !== undefined && candidate !== leader && candidate.source === 'ESTIMATED' && candidate.monthlyCostLow > leader.monthlyCostHigh) {
      pruned.push({
        key: candidate.key,
        gpu: candidate.gpu,
        gpus: candidate.gpus,
        tp: candidate.tp,
        pp: candidate.pp,
        quant: candidate.quant,
        engine: candidate.engine,
        pricing: candidate.pricing,
        reason: 'beaten',
        detail: `even at its best (${formatUsd(candidate.monthlyCostLow)}/month) it costs more than the leader at its worst (${formatUsd(leader.monthlyCostHigh)})`,
      })
      continue
    }
    ranked.push(candidate)
  }
  ranked.forEach((candidate, index) => (candidate.rank = index + 1))
  const tpotFrontier = paretoKeys(ranked.map((c) => ({key: c.key, cost: c.monthlyCost, latency: c.throughput.tpotMs})))
  const ttftFrontier = paretoKeys(ranked.map((c) => ({key: c.key, cost: c.monthlyCost, latency: c.throughput.ttftMs})))
  for (const c of ranked) c.pareto = {tpot: tpotFrontier.includes(c.key), ttft: ttftFrontier.includes(c.key)}

  const apis = apiOptions(store, input, ranked[0] ?? null)
  const trafficPlan = planTraffic(input.traffic, input.tokensPerMonth, {replicaTokensPerSecond: 1, replicaUsdPerHour: 1, hoursPerMonth: input.hoursPerMonth})
  return {
    model: {id: input.model.id, name: input.model.name},
    workload: input.workload,
    slo: input.slo,
    sloSource: input.sloSource,
    volume: {tokensPerMonth: input.tokensPerMonth, tokensPerDay: (input.tokensPerMonth * 24) / input.hoursPerMonth},
    traffic: {label: input.traffic.label, description: input.traffic.description, peakToAverage: trafficPlan.peakToAverage},
    hoursPerMonth: input.hoursPerMonth,
    space: {
      gpus: input.gpus.map((g) => g.id),
      maxGpus: input.maxGpus,
      quants: [...input.quants],
      engines: [...input.engines],
      pricing: [...input.pricing],
      deployments: all.length,
      candidates: candidates.length,
    },
    priors: input.priors,
    priorUpdates: input.priorUpdates,
    ranked,
    pruned,
    pareto: {tpot: tpotFrontier, ttft: ttftFrontier},
    apis,
    why: whyLines(input, ranked, apis.options),
    assumptions: [
      `ESTIMATED = the serving ceiling (roofline: decode step at the average context + each prompt's prefill FLOPs on the same GPUs, src/roofline/serving.ts) at the largest batch whose estimated TPOT/TTFT meet the SLO and whose KV cache fits, through the calibration prior's line (seconds per output token = k x the roofline's memory-bound, compute-bound and prefill parts + a fixed c, fitted per engine family and GPU vendor on published measurements); the range is an ${Math.round(PRIOR_COVERAGE * 100)}% prediction interval: the conformal quantiles of the group's residuals against the line refitted without each row's source (a published table), so a deployment the set does not hold should fall inside ${Math.round(PRIOR_COVERAGE * 100)}% of the time`,
      `MEASURED = a capplan result file (or imported peer file) of that model, quant, engine, GPU and GPU count: its operating point at the SLO, as \`capplan report\` finds it`,
      `SCALED = measured on another GPU with the same engine and GPU count, scaled by the ceilings' ratio (\`capplan report --what-if\`)`,
      `fleet: replicas per hour = ceil(tokens that hour / replica capacity) over traffic ${input.traffic.label}; rented fleets autoscale per hour, owned GPUs are paid every hour (the peak fleet)`,
      `owned $/GPU-hour (cost/ownership.ts, busy every hour): purchase over its life + power + colocation + operations; not given by a flag: ${ownedAssumed(input.owned ?? {})}`,
      `$/1M input and output: the replica's time split by the roofline's prefill share (cost/io-split.ts)`,
      `llama.cpp splits layers over GPUs (TP 1 x PP N); the calibration set has no llama.cpp (nor vLLM) rows, so their ESTIMATED figures use the line fitted on all rows (TensorRT-LLM, NIM, SGLang, Dynamo): likely optimistic for llama.cpp`,
    ],
    notes: input.notes ?? [],
  }
}

function apiOptions(store: ProfileStore, input: SearchInput, top: Candidate | null): SearchResult['apis'] {
  const set = comparisonSet(store, {model: input.model.id, ...(top === null ? {} : {quant: top.quant})})
  const ratio = {input: input.workload.inputTokens, output: input.workload.outputTokens}
  const options: ApiOption[] = set.apis
    .filter((api) => !api.retired && (api.group === 'same-model' || api.group === 'nearest-model' || api.group === 'closed'))
    .map((api) => {
      const price = resolveApiPrice(store, api.id)
      const blended = blendedApiPrice(price, ratio).blendedPerMTok
      return {
        id: api.id,
        name: price.name,
        group: api.group,
        blendedPerMTok: blended,
        inputPerMTok: price.inputPerMTok,
        outputPerMTok: price.outputPerMTok,
        monthlyCost: apiMonthlyCost(input.tokensPerMonth, blended),
        qualityGap: api.qualityGap === null ? null : `${api.qualityGap.text} (${api.qualityGap.harness})`,
        priceDate: price.date,
      }
    })
    .sort((a, b) => (a.group === b.group ? a.monthlyCost - b.monthlyCost : a.group === 'closed' ? 1 : b.group === 'closed' ? -1 : 0))
  return {twinModel: set.twinModel, twinNote: set.twinNote, benchmark: set.benchmark, options}
}

function whyLines(input: SearchInput, ranked: Candidate[], apis: ApiOption[]): string[] {
  const lines: string[] = []
  const top = ranked[0]
  if (top === undefined) {
    lines.push('No deployment meets the SLO and fits: see the pruned list (--show-pruned) for why each was refused.')
    return lines
  }
  // Ties (the same fleet price, e.g. 8 GPUs as TP 8 or TP 4 x PP 2) are named, the runner-up is the next cost up.
  const ties = ranked.filter((c) => c !== top && c.monthlyCost <= top.monthlyCost * (1 + 1e-9))
  const second = ranked.find((c) => c.monthlyCost > top.monthlyCost * (1 + 1e-9))
  const cost = (c: Candidate) => `${formatUsd(c.monthlyCost)}/month`
  lines.push(
    `${label(top)} wins at ${cost(top)} (${top.source}${top.source === 'ESTIMATED' ? `, ${formatUsd(top.monthlyCostLow)}-${formatUsd(top.monthlyCostHigh)}` : ''}): ` +
      `${top.throughput.outputTokensPerSecond.toFixed(0)} output tok/s per replica at the SLO on ${top.gpus} GPU(s) at ${formatUsd(top.usdPerGpuHour)}/GPU-hour, ` +
      `${top.replicas.peak} replica(s) at the peak, ${top.replicas.average.toFixed(2)} on average.`,
  )
  if (ties.length > 0) lines.push(`Tied at the same cost: ${ties.slice(0, 3).map(label).join('; ')}${ties.length > 3 ? ` and ${ties.length - 3} more` : ''}.`)
  if (second !== undefined) {
    const ratio = second.monthlyCost / top.monthlyCost
    // The price at which the runner-up would cost what the leader costs (cost is proportional to its $/GPU-hour).
    const breakEven = second.usdPerGpuHour / ratio
    lines.push(
      `Runner-up: ${label(second)} at ${cost(second)} (+${((ratio - 1) * 100).toFixed(0)}%, ${second.source}); it would tie at ${formatUsd(breakEven)}/GPU-hour ` +
        `(now ${formatUsd(second.usdPerGpuHour)}), or at ${(ratio * 100).toFixed(0)}% of its throughput.`,
    )
  }
  const straddles = ranked.filter((c) => c !== top && c.source === 'ESTIMATED' && c.monthlyCostLow < top.monthlyCost && c.monthlyCostHigh > top.monthlyCost)
  const seen = new Set<string>()
  for (const c of straddles) {
    const what = `${c.gpus} x ${c.gpu} ${c.quant} ${c.engine}`
    if (seen.has(what) || seen.size >= 3) continue
    seen.add(what)
    lines.push(
      `Measure ${what}: its estimate's range (${formatUsd(c.monthlyCostLow)}-${formatUsd(c.monthlyCostHigh)}/month, ${c.pricing}) straddles the leader's ${cost(top)} ` +
        `(capplan bench on that GPU, then plan --results DIR).`,
    )
  }
  if (top.source === 'ESTIMATED') {
    lines.push(
      `The leader itself is ESTIMATED: measure it (capplan bench --engine ${top.engine} --quant ${top.quant} on ${top.gpus} x ${top.gpu}) to turn ${formatUsd(top.monthlyCostLow)}-${formatUsd(top.monthlyCostHigh)} into one number.`,
    )
  }
  if (top.quantLoss !== null && top.quantLoss.lossPct > 0) {
    const lossless = ranked.find((c) => c.quant === 'fp16' || (c.quantLoss !== null && c.quantLoss.lossPct <= 0))
    lines.push(
      `Its ${top.format} weights lose ~${top.quantLoss.lossPct}% (${top.quantLoss.metric}, ${top.quantLoss.measuredOn})` +
        (lossless === undefined ? '; no lossless deployment meets the SLO.' : `; the cheapest without that loss is ${label(lossless)} at ${cost(lossless)}.`),
    )
  }
  const twin = apis.filter((a) => a.group === 'same-model' || a.group === 'nearest-model').sort((a, b) => a.monthlyCost - b.monthlyCost)[0]
  if (twin !== undefined) {
    lines.push(
      `Hosted twin ${twin.id}: ${formatUsd(twin.monthlyCost)}/month at ${formatTokens(input.tokensPerMonth)} tokens (${formatUsd(twin.blendedPerMTok)}/1M blended): ` +
        (twin.monthlyCost < top.monthlyCost
          ? `cheaper than self-hosting by ${formatUsd(top.monthlyCost - twin.monthlyCost)}/month.`
          : `self-hosting saves ${formatUsd(twin.monthlyCost - top.monthlyCost)}/month.`),
    )
  }
  return lines
}

/** The owned defaults a search used (no flag gave them), with their sources. */
function ownedAssumed(owned: OwnedChoices): string {
  const used = (Object.keys(OWNED_DEFAULTS) as (keyof typeof OWNED_DEFAULTS)[]).filter((key) => owned[key] === undefined).map((key) => OWNED_DEFAULTS[key].source)
  return used.length === 0 ? 'none' : used.join('; ')
}
