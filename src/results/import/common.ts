/**
 * What every peer importer shares: a reproducible id, placeholders for what peers do not record (named in
 * the notes, never passed off as measured), and matching a peer's model name to a model profile.
 */

import {createHash} from 'node:crypto'

import {z} from 'zod'

import type {ProfileStore} from '../../profiles/store.js'
import type {ReportedLatency, ReportedStat} from '../reported-latency.js'
import type {QuantLevel} from '../../profiles/schema.js'
import type {HostSnapshot, LevelSummary, ResultFile} from '../schema.js'

export const peerFormats = ['llama-bench', 'vllm', 'guidellm', 'sglang', 'aiperf', 'genai-perf'] as const
export type PeerFormat = (typeof peerFormats)[number]

export interface ImportContext {
  /** The capplan version writing the file (import) or reading it (report). */
  capplanVersion: string
  /** The command recorded in the file, as its argv (e.g. ['capplan', 'import', 'run.json']). */
  command: string[]
  /** Profiles to match the peer's model name against (optional: without it the name is kept as is). */
  store?: ProfileStore
}

/**
 * What a peer's numbers may be for capplan to use them. Bounded far beyond any real run, so that everything
 * derived from them (ms = s x 1000, tok/s = tokens / s, E2E = TPOT x tokens, sums) stays finite, and counts
 * stay safe integers: a value outside is damage, refused with the peer's own field name, never a NaN or an
 * Infinity in a result file.
 */
export const peerNumbers = {
  /** Token and request counts (zod's int() is a safe integer). */
  count: z.number().int().nonnegative().max(1e15),
  /** A measured duration in seconds: at least 1 µs (it divides), at most ~31 years. */
  duration: z.number().min(1e-6).max(1e9),
  /** A time span in seconds that may be 0 (TTFT, latency, a gap between tokens). */
  seconds: z.number().nonnegative().max(1e9),
  /** The same in milliseconds. */
  ms: z.number().nonnegative().max(1e12),
  /** A clock reading in seconds (epoch or monotonic): only differences are used. */
  timestamp: z.number().min(-1e11).max(1e11),
  /** Requests or tokens per second. */
  perSecond: z.number().nonnegative().max(1e12),
}

/**
 * A UUID derived from the source bytes, so importing the same file twice gives the same id (and compare can
 * tell it is the same run). Shaped as a version-4 UUID (version and variant bits set) to pass the schema.
 */
export function contentUuid(text: string, salt = ''): string {
  const hex = createHash('sha256').update(salt).update(text).digest('hex')
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

/** The host record of a peer file: only what it says; the rest are placeholders listed in the notes. */
export function placeholderHost(format: PeerFormat, known: {cpuModel?: string; threads?: number; gpuNames?: string[]} = {}): HostSnapshot {
  const cores = known.threads !== undefined && known.threads > 0 ? known.threads : 1
  return {
    hostname: `unknown (not recorded by ${format})`,
    cpu: {model: known.cpuModel ?? 'unknown', physicalCores: cores, logicalCores: cores},
    memoryBytes: 0,
    os: {platform: 'unknown', distro: 'unknown', release: 'unknown', kernel: 'unknown', arch: 'unknown'},
    node: {version: 'n/a'},
    gpus: (known.gpuNames ?? []).map((model) => ({
      vendor: /nvidia|geforce|rtx|tesla|quadro|^[ahlbt]\d{2,3}/i.test(model) ? 'NVIDIA' : /amd|radeon|instinct|mi\d{3}/i.test(model) ? 'AMD' : 'unknown',
      model,
      vramMiB: null,
      driver: null,
    })),
  }
}

/** A level summary with no latency distributions (sources that only give throughput). */
export function throughputOnlySummary(values: {
  completed: number
  failed: number
  durationS: number
  outputTokensPerS: number
  inputTokensPerS: number
  requestsPerS: number
  perUserTokensPerS: number | null
}): LevelSummary {
  return {
    requests: {completed: values.completed, failed: values.failed},
    durationS: values.durationS,
    throughput: {
      outputTokensPerS: values.outputTokensPerS,
      inputTokensPerS: values.inputTokensPerS,
      totalTokensPerS: values.outputTokensPerS + values.inputTokensPerS,
      requestsPerS: values.requestsPerS,
    },
    ttftMs: null,
    tpotMs: null,
    itlMsPerToken: null,
    itlMsPerChunk: null,
    e2eMs: null,
    perUserTokensPerS: values.perUserTokensPerS,
    goodput: null,
    errors: {},
    tokenMismatches: 0,
  }
}

const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9.]+/g, '-')

export interface ModelMatch {
  profile: string
  quant: QuantLevel | null
  paramsB: number | null
  repo: string | null
}

/**
 * The model profile a peer's model name refers to: an exact Hugging Face repo (the profile's own or one of
 * its quant checkpoints, which also gives the quant), else the longest profile id contained in the name
 * ("node-qwen2.5-0.5b-shape-q4_0.gguf" -> qwen2.5-0.5b). Null when nothing matches.
 */
export function matchModelProfile(name: string, store: ProfileStore | undefined): ModelMatch | null {
  if (store === undefined) return null
  const wanted = name.trim().toLowerCase()
  const models = store.list('model')
  for (const model of models) {
    if (model.hfRepo.toLowerCase() === wanted) return {profile: model.id, quant: null, paramsB: model.params.totalB, repo: model.hfRepo}
    for (const [quant, source] of Object.entries(model.quants)) {
      if (source === undefined || source === null) continue
      if (source.vllm.repo.toLowerCase() === wanted || source.llamacpp.repo.toLowerCase() === wanted) {
        return {profile: model.id, quant: quant as QuantLevel, paramsB: model.params.totalB, repo: name}
      }
    }
  }
  const haystack = slug(name)
  let best: (typeof models)[number] | undefined
  for (const model of models) {
    const candidates = [slug(model.id), slug(model.hfRepo.split('/').at(-1) ?? '')]
    if (candidates.some((candidate) => candidate !== '' && haystack.includes(candidate)) && (best === undefined || model.id.length > best.id.length)) {
      best = model
    }
  }
  return best === undefined ? null : {profile: best.id, quant: null, paramsB: best.params.totalB, repo: null}
}

/**
 * The model name in a local path: a Hugging Face cache snapshot
 * (".../models--Qwen--Qwen2.5-7B-Instruct/snapshots/<hash>/...") -> "Qwen/Qwen2.5-7B-Instruct"; another
 * local path -> its last segment; a repo id ("Qwen/Qwen2.5-7B-Instruct") or a bare name is returned as it is.
 */
export function modelNameFromPath(name: string): string {
  const snapshot = /(?:^|[\\/])models--([^\\/]+?)--([^\\/]+)[\\/]snapshots[\\/]/.exec(name)
  if (snapshot !== null) return `${snapshot[1]}/${snapshot[2]}`
  // Any other local path (/models/Qwen2.5-7B-Instruct/, ./ckpt, C:\\models\\x) gives its last segment.
  if (/^(\/|~|\.{1,2}[\\/]|[A-Za-z]:[\\/])/.test(name)) return name.split(/[\\/]/).filter((part) => part !== '').at(-1) ?? name
  return name
}

/** GGUF / checkpoint format name -> capplan's quant level (closest; Q5/Q6 count as int8, the nearer level). */
export function quantFromFormat(format: string): QuantLevel | null {
  const f = format.toUpperCase()
  // ggml's 1- to 4-bit types (Q4_K, IQ4_XS, IQ2_XXS, TQ1_0, ...), MXFP4 and NVFP4 are nearest to int4.
  if (/^((I|T)?Q[1-4]|MXFP4|NVFP4|AWQ|GPTQ-?INT4|INT4|W4)/.test(f)) return 'int4'
  if (/^(Q[5-8]|INT8|W8|FP8|GPTQ-?INT8)/.test(f)) return 'int8'
  if (/^(F16|BF16|F32|FP16|FLOAT16|BFLOAT16)/.test(f)) return 'fp16'
  return null
}

export type ImportedResult = ResultFile

/**
 * The latency statistics a peer wrote as flat aggregate fields ("median_ttft_ms", "p99_tpot_ms", ...):
 * `metrics` maps the peer's metric name to capplan's (only metrics in capplan's definitions are listed);
 * mean, median (= p50), p50, p90, p95 and p99 are kept, anything else (std, p99.9) is not. Undefined when
 * the record has none.
 */
export function reportedFromAggregates(record: Record<string, unknown>, source: string, metrics: Record<string, 'ttft' | 'tpot' | 'e2e'>): ReportedLatency | undefined {
  const reported: ReportedLatency = {source}
  const keys = {ttft: 'ttftMs', tpot: 'tpotMs', e2e: 'e2eMs'} as const
  for (const [theirs, ours] of Object.entries(metrics)) {
    const stats: Partial<Record<ReportedStat, number>> = {}
    for (const [prefix, stat] of [['mean', 'mean'], ['median', 'p50'], ['p50', 'p50'], ['p90', 'p90'], ['p95', 'p95'], ['p99', 'p99']] as const) {
      const value = record[`${prefix}_${theirs}_ms`]
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0) stats[stat] = value
    }
    if (Object.keys(stats).length > 0) reported[keys[ours]] = stats
  }
  return reported.ttftMs === undefined && reported.tpotMs === undefined && reported.e2eMs === undefined ? undefined : reported
}
