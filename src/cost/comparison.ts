/**
 * Which APIs a self-hosted model is compared with, and how much quality each choice gives up.
 *
 * - "same model, hosted" (the hosted twins): API profiles whose `servesModel` is the measured model. When no
 *   provider serves it, the nearest served model of the same architecture stands in, and the report says so.
 * - "closed APIs": closed models, each with the quality gap on one benchmark measured in ONE harness (a table
 *   that scored both models the same way); a gap across harnesses is never computed.
 * - `--compare` picks the set: same-model | quality>=SCORE:BENCH | all (default: twins + closed); `--api` wins.
 * - the quantization's expected loss comes from the quant-loss profiles, by format and size class.
 * Pure: profile lookups only (the store is loaded already).
 */

import type {ApiProfile, BenchmarkScore, ModelProfile, QuantLevel, QuantLossProfile, SizeClass} from '../profiles/schema.js'
import type {ProfileStore} from '../profiles/store.js'

export type CompareSpec = {kind: 'default'} | {kind: 'same-model'} | {kind: 'all'} | {kind: 'quality'; benchmark: string; minScore: number}

export type ApiGroup = 'same-model' | 'nearest-model' | 'closed' | 'open-other'

/** Benchmarks tried in this order when the user names none: the hardest still widely reported first. */
export const PREFERRED_BENCHMARKS = ['gpqa-diamond', 'mmlu-pro', 'mmlu', 'humaneval', 'math-500'] as const

/** Short names for tables ("GPQA-D 49.0 vs 65.0"). */
const SHORT_NAMES: Record<string, string> = {
  'gpqa-diamond': 'GPQA-D',
  'mmlu-pro': 'MMLU-Pro',
  mmlu: 'MMLU',
  humaneval: 'HumanEval',
  'humaneval-mul': 'HumanEval-Mul',
  'math-500': 'MATH-500',
  'swe-bench-verified': 'SWE-bench-V',
  livecodebench: 'LiveCodeBench',
  'arena-hard': 'Arena-Hard',
  ifeval: 'IFEval',
  math: 'MATH',
}
export const benchmarkName = (id: string): string => SHORT_NAMES[id] ?? id

export interface QualityGap {
  benchmark: string
  harness: string
  /** The self-hosted model's score (full precision, as published). */
  selfScore: number
  apiScore: number
  /** api - self: positive = the API scores higher. */
  difference: number
  /** "GPQA-D 49.0 vs 65.0" */
  text: string
  source: string
}

export interface QuantLoss {
  format: string
  sizeClass: SizeClass
  lossPct: number
  metric: string
  measuredOn: string
  source: string
  date: string
  /** When the figure is for another size class than the model's (the nearest one available). */
  note: string | null
}

export interface ComparedApi {
  id: string
  group: ApiGroup
  /** The model profile a twin serves; null for closed APIs. */
  servesModel: string | null
  servedVersion: string | null
  precision: string | null
  retired: boolean
  qualityGap: QualityGap | null
}

export interface ComparisonSet {
  /** The measured (or planned) model; null when the plan names none (then every API is listed, ungrouped). */
  model: string | null
  /** The model whose twins are shown: the model itself, or the nearest served model; null = none served. */
  twinModel: string | null
  /** Why the twins are another model's, or why there are none. */
  twinNote: string | null
  /** The benchmark the quality gaps use (null: no same-harness scores). */
  benchmark: string | null
  apis: ComparedApi[]
  quantLoss: QuantLoss | null
  quantLossNote: string | null
  notes: string[]
}

/** The size class of a model from its total parameters (billions). */
export function sizeClassOf(totalB: number): Exclude<SizeClass, 'any'> {
  if (totalB < 3) return 'under-3b'
  if (totalB < 15) return '3b-15b'
  if (totalB <= 100) return '15b-100b'
  return 'over-100b'
}

const SIZE_ORDER: Exclude<SizeClass, 'any'>[] = ['under-3b', '3b-15b', '15b-100b', 'over-100b']

/** The loss of `format` for a model of `totalB`: the same size class, else 'any', else the nearest class (said). */
export function quantLossFor(store: ProfileStore, format: string, quant: QuantLevel, totalB: number): {loss: QuantLoss | null; note: string | null} {
  if (quant === 'fp16') return {loss: null, note: null}
  // "AWQ" with int4 is the AWQ-INT4 table, "GPTQ-Int4" is GPTQ-INT4, "w8a8" with int8 is INT8-W8A8: compare letters and digits only.
  const norm = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '')
  const bits = quant === 'int4' ? 'int4' : 'int8'
  const wanted = new Set([norm(format), `${norm(format)}${bits}`, `${bits}${norm(format)}`])
  const profiles = store.list('quant-loss').filter((q) => wanted.has(norm(q.format)))
  if (profiles.length === 0) {
    return {loss: null, note: `no quantization-loss figure for ${format} (profiles/quant-loss); expected loss unknown`}
  }
  const size = sizeClassOf(totalB)
  const entries = profiles.flatMap((profile: QuantLossProfile) => profile.entries.map((entry) => ({profile, entry})))
  const pick = (wanted: SizeClass) => entries.find(({entry}) => entry.sizeClass === wanted)
  const exact = pick(size) ?? pick('any')
  const chosen =
    exact ??
    [...entries].sort(
      (a, b) =>
        Math.abs(SIZE_ORDER.indexOf(a.entry.sizeClass as Exclude<SizeClass, 'any'>) - SIZE_ORDER.indexOf(size)) -
        Math.abs(SIZE_ORDER.indexOf(b.entry.sizeClass as Exclude<SizeClass, 'any'>) - SIZE_ORDER.indexOf(size)),
    )[0]!
  const {profile, entry} = chosen
  return {
    loss: {
      format: profile.format,
      sizeClass: entry.sizeClass,
      lossPct: entry.lossPct,
      metric: entry.metric,
      measuredOn: entry.measuredOn,
      source: entry.source,
      date: entry.date,
      note: exact === undefined ? `measured on ${entry.sizeClass} models; this model is ${size} (smaller models usually lose more)` : null,
    },
    note: null,
  }
}

/** The scores that speak for an API: its own, else those of the model it serves. */
function apiScores(store: ProfileStore, api: ApiProfile): BenchmarkScore[] {
  if (api.scores.length > 0) return api.scores
  if (api.servesModel !== undefined && store.has('model', api.servesModel)) return store.get('model', api.servesModel).scores
  return []
}

/** A gap on `benchmark` measured in one harness that scored both, or null. */
export function qualityGap(selfScores: readonly BenchmarkScore[], otherScores: readonly BenchmarkScore[], benchmark: string): QualityGap | null {
  for (const mine of selfScores) {
    if (mine.benchmark !== benchmark) continue
    const theirs = otherScores.find((score) => score.benchmark === benchmark && score.harness === mine.harness)
    if (theirs === undefined) continue
    return {
      benchmark,
      harness: mine.harness,
      selfScore: mine.value,
      apiScore: theirs.value,
      difference: theirs.value - mine.value,
      text: `${benchmarkName(benchmark)} ${mine.value.toFixed(1)} vs ${theirs.value.toFixed(1)}`,
      source: mine.source === theirs.source ? mine.source : `${mine.source}; ${theirs.source}`,
    }
  }
  return null
}

/** The benchmark shared (same harness) with the most closed APIs, in PREFERRED order on ties. */
function chooseBenchmark(self: readonly BenchmarkScore[], others: BenchmarkScore[][]): string | null {
  const candidates = [...new Set([...PREFERRED_BENCHMARKS, ...self.map((score) => score.benchmark)])]
  let best: string | null = null
  let bestCount = 0
  for (const benchmark of candidates) {
    const count = others.filter((scores) => qualityGap(self, scores, benchmark) !== null).length
    if (count > bestCount) {
      best = benchmark
      bestCount = count
    }
  }
  return best
}

/** The nearest model with a hosted twin: same architecture first, then the closest parameter count (log scale). */
function nearestServedModel(store: ProfileStore, model: ModelProfile, served: Set<string>): ModelProfile | null {
  const candidates = store.list('model').filter((m) => m.id !== model.id && served.has(m.id))
  if (candidates.length === 0) return null
  const distance = (m: ModelProfile) => (m.architecture === model.architecture ? 0 : 100) + Math.abs(Math.log(m.params.totalB / model.params.totalB))
  return [...candidates].sort((a, b) => distance(a) - distance(b))[0]!
}

export interface ComparisonRequest {
  /** The model profile measured or planned; undefined = no model (plain `plan --throughput`). */
  model?: string
  quant?: QuantLevel
  /** The weight format (Q4_0, AWQ, ...) for the quantization loss. */
  format?: string
  compare?: CompareSpec
  /** --api: exactly these, grouped all the same. */
  apis?: readonly string[]
  /** --quality-on: the benchmark for the gaps (default: chosen from PREFERRED_BENCHMARKS). */
  benchmark?: string
}

export function comparisonSet(store: ProfileStore, request: ComparisonRequest): ComparisonSet {
  const model = request.model !== undefined && store.has('model', request.model) ? store.get('model', request.model) : undefined
  const all = store.list('api')
  const served = new Set(all.filter((api) => api.servesModel !== undefined && api.retired === undefined).map((api) => api.servesModel!))
  const notes: string[] = []

  let twinModel: ModelProfile | undefined = model !== undefined && served.has(model.id) ? model : undefined
  let twinNote: string | null = null
  if (model !== undefined && twinModel === undefined) {
    const nearest = nearestServedModel(store, model, served)
    if (nearest === null) twinNote = `no API profile serves ${model.id} or a model like it`
    else {
      twinModel = nearest
      const ratio = nearest.params.totalB / model.params.totalB
      twinNote =
        `no provider serves ${model.id}; the nearest served model is ${nearest.id} ` +
        `(${nearest.architecture === model.architecture ? 'same architecture' : 'another architecture'}, ` +
        `${ratio >= 1 ? `${Number(ratio.toPrecision(2))}x the parameters` : `${Number((1 / ratio).toPrecision(2))}x fewer parameters`}): its prices are for scale, not like for like`
    }
  }
  const selfScores = model?.scores ?? []
  const groupOf = (api: ApiProfile): ApiGroup => {
    if (api.servesModel !== undefined && model !== undefined && api.servesModel === model.id) return 'same-model'
    if (api.servesModel !== undefined && twinModel !== undefined && api.servesModel === twinModel.id && twinModel.id !== model?.id) return 'nearest-model'
    return api.openWeights ? 'open-other' : 'closed'
  }

  const closedScores = all.filter((api) => !api.openWeights && api.retired === undefined).map((api) => apiScores(store, api))
  const benchmark = request.benchmark ?? (request.compare?.kind === 'quality' ? request.compare.benchmark : chooseBenchmark(selfScores, closedScores))
  if (request.benchmark !== undefined && !selfScores.some((score) => score.benchmark === request.benchmark) && model !== undefined) {
    notes.push(`${model.id} has no published ${benchmarkName(request.benchmark)} score in its profile: quality gaps are unknown`)
  }

  let chosen: ApiProfile[]
  if (request.apis !== undefined) {
    chosen = request.apis.map((id) => store.get('api', id.split('@')[0]!))
  } else {
    const live = all.filter((api) => api.retired === undefined)
    const spec = request.compare ?? {kind: 'default'}
    switch (spec.kind) {
      case 'all': {
        chosen = live
        break
      }
      case 'same-model': {
        chosen = live.filter((api) => groupOf(api) === 'same-model' || groupOf(api) === 'nearest-model')
        if (chosen.length === 0) notes.push(`--compare same-model: ${twinNote ?? 'no hosted twin'}`)
        break
      }
      case 'quality': {
        chosen = live.filter((api) => {
          if (groupOf(api) === 'same-model') return true
          const score = apiScores(store, api).find((s) => s.benchmark === spec.benchmark)
          return score !== undefined && score.value >= spec.minScore
        })
        break
      }
      case 'default': {
        if (model === undefined) {
          // No model to find twins for: the closed APIs are the reference prices; twins need --model.
          chosen = live.filter((api) => !api.openWeights)
          notes.push('no model named: compared with the closed APIs only (--model ID adds the same model hosted, --compare all every API)')
        } else chosen = live.filter((api) => ['same-model', 'nearest-model', 'closed'].includes(groupOf(api)))
        break
      }
    }
  }
  const apis = chosen.map((api): ComparedApi => ({
    id: api.id,
    group: model === undefined ? (api.openWeights ? 'open-other' : 'closed') : groupOf(api),
    servesModel: api.servesModel ?? null,
    servedVersion: api.servedVersion ?? null,
    precision: api.precision ?? null,
    retired: api.retired !== undefined,
    qualityGap: benchmark === null || model === undefined ? null : qualityGap(selfScores, apiScores(store, api), benchmark),
  }))
  for (const api of apis) if (api.retired) notes.push(`${api.id} is retired (${store.get('api', api.id).retired!.note}); its price is kept to reproduce published tables`)

  const lossLookup =
    model !== undefined && request.quant !== undefined && request.format !== undefined
      ? quantLossFor(store, request.format, request.quant, model.params.totalB)
      : {loss: null, note: null}
  return {
    model: model?.id ?? request.model ?? null,
    twinModel: twinModel?.id ?? null,
    twinNote,
    benchmark,
    apis,
    quantLoss: lossLookup.loss,
    quantLossNote: lossLookup.note,
    notes,
  }
}
