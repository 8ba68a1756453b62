/**
 * `capplan bench`'s flags -> the run it describes (BenchOptions): every flag checked against the others and
 * the engine before anything is loaded, synthesized or started; profiles and the dataset read once. The flags
 * arrive as values (each text flag was parsed by its oclif flag, src/cli/flags/bench.ts).
 */

import {existsSync} from 'node:fs'
import path from 'node:path'

import {BENCH_DEFAULTS} from '../../cli/flags/bench.js'
import {ENGINE_APIS, type EngineApi, type EngineKind, defaultMaxInFlight} from '../../engines/registry.js'
import {isLoopbackHost} from '../../engines/spawned/process.js'
import {contextSizeFor} from '../../engines/embedded.js'
import {invalidInput, notFound} from '../../lib/errors.js'
import {type LoadPlan, type OnEngineError, peakInFlight} from '../../loadgen/run.js'
import {type Dataset, loadDataset} from '../../loadgen/dataset.js'
import {PRECISION_DEFAULTS, precisionRule, type StopRule} from '../../loadgen/stop-rules.js'
import {SWEEP_DEFAULTS} from '../../loadgen/sweep.js'
import {loadProfiles} from '../../profiles/load.js'
import {type ProfileStore} from '../../profiles/store.js'
import type {ModelProfile, QuantLevel, WorkloadProfile} from '../../profiles/schema.js'
import type {SloSpec} from '../../results/schema.js'
import {resolveShape, type ResolvedShape, type ShapeFlags} from './shape.js'

/**
 * The API bench sends requests to: --api when it belongs to the engine, else the engine's default; null for
 * engines without a choice. chat takes text prompts only, so it needs --dataset.
 */
export function engineApiFromFlags(engine: EngineKind, api: string | undefined, datasetGiven: boolean): EngineApi | null {
  const choices: readonly EngineApi[] | undefined = engine === 'llamacpp' || engine === 'openai' ? ENGINE_APIS[engine] : undefined
  if (choices === undefined) {
    if (api === undefined) return null
    throw invalidInput(
      `--api only applies to --engine llamacpp (${ENGINE_APIS.llamacpp.join(', ')}) or openai (${ENGINE_APIS.openai.join(', ')}), not ${engine}.`,
      'Drop --api, or pick one of those engines.',
    )
  }
  if (api === undefined) return choices[0]!
  if (!(choices as readonly string[]).includes(api)) {
    throw invalidInput(`--api ${api} is not an API of --engine ${engine}.`, `Use --api ${choices.join(' or --api ')} (default ${choices[0]}).`)
  }
  if (api === 'chat' && !datasetGiven) {
    throw invalidInput(
      '--api chat sends text messages, so it needs --dataset FILE: synthetic token-id prompts only go through --api completions.',
      'Add --dataset prompts.jsonl, or drop --api chat.',
    )
  }
  return api as EngineApi
}

/** Requests per --rate level when neither --requests, --duration nor --precision is given. */
export const DEFAULT_RATE_REQUESTS = 10

/** The load flags as values: concurrency levels, rates in requests/s, a duration in ms, a precision as a fraction. */
export interface LoadFlags {
  concurrency?: readonly number[]
  rate?: readonly number[]
  sweep: boolean
  durationMs?: number
  precision?: number
  requests?: number
  maxInFlight?: number
  burstiness?: number
  rampMs?: number
  /** --trace: --max-in-flight applies to it too. */
  trace?: boolean
  engine: EngineKind
}

/**
 * The load plan from the flags. Exactly one arrival mode: --concurrency LIST (default 1,2,4), --rate LIST or
 * --sweep; at most one level end: --requests N (default), --duration D or --precision P (with --duration /
 * --precision, --requests caps each level instead, default 1000).
 */
export function loadPlanFromFlags(f: LoadFlags): LoadPlan {
  const modes = [f.concurrency === undefined ? null : '--concurrency', f.rate === undefined ? null : '--rate', f.sweep ? '--sweep' : null].filter(
    (mode): mode is string => mode !== null,
  )
  if (modes.length > 1) {
    throw invalidInput(
      `${modes.join(' and ')} cannot be used together: each picks how levels load the engine.`,
      'Give one: --concurrency 1,4,16 (closed loop), --rate 0.5,1,2 (open loop, requests/s) or --sweep.',
    )
  }
  if (f.durationMs !== undefined && f.precision !== undefined) {
    throw invalidInput('--duration and --precision cannot be used together: each decides when a level ends.', 'Give one, e.g. --duration 60s or --precision 3%.')
  }
  if (f.maxInFlight !== undefined && f.rate === undefined && !f.trace) {
    throw invalidInput('--max-in-flight only applies to --rate (open loop).', 'Drop it, or use --rate LIST.')
  }
  const cap = f.requests ?? PRECISION_DEFAULTS.maxRequests
  const timed: StopRule | null =
    f.durationMs !== undefined
      ? {kind: 'duration', durationMs: f.durationMs, maxRequests: cap}
      : f.precision !== undefined
        ? precisionRule(f.precision, {maxRequests: cap, minRequests: Math.min(PRECISION_DEFAULTS.minRequests, cap)})
        : null
  const stopFor = (concurrency: number): StopRule => timed ?? {kind: 'requests', requests: f.requests ?? defaultRequestsFor(concurrency)}
  if (f.rate !== undefined) {
    const maxInFlight = f.maxInFlight ?? defaultMaxInFlight(f.engine)
    return {
      kind: 'rate',
      rates: [...f.rate],
      stop: timed ?? {kind: 'requests', requests: f.requests ?? DEFAULT_RATE_REQUESTS},
      maxInFlight,
      ...(f.burstiness === undefined ? {} : {burstiness: f.burstiness}),
      ...(f.rampMs === undefined ? {} : {rampMs: f.rampMs}),
    }
  }
  if (f.sweep) return {kind: 'sweep', maxConcurrency: SWEEP_DEFAULTS.maxConcurrency, minGain: SWEEP_DEFAULTS.minGain, stopFor}
  return {kind: 'concurrency', concurrencies: [...(f.concurrency ?? BENCH_DEFAULTS.concurrency)], stopFor}
}

/** A loopback endpoint: its /metrics and GPUs are this machine's to read. */
export function isLoopbackEndpoint(endpoint: string): boolean {
  try {
    const host = new URL(endpoint).hostname
    return host === '127.0.0.1' || host === 'localhost' || host === '[::1]'
  } catch {
    return false
  }
}

/** Requests per level when --requests is not given: 2 rounds of the concurrency, at least 4. */
export function defaultRequestsFor(concurrency: number): number {
  return Math.max(4, 2 * concurrency)
}

/** The workload SLO (p95 thresholds) as per-request thresholds for goodput; undefined when it sets none. */
export function workloadSlo(workload: WorkloadProfile): SloSpec | undefined {
  const slo: SloSpec = {}
  if (workload.slo.ttftP95Ms !== null) slo.ttftMs = workload.slo.ttftP95Ms
  if (workload.slo.tpotP95Ms !== null) slo.tpotMs = workload.slo.tpotP95Ms
  if (workload.slo.e2eP95Ms !== null) slo.e2eMs = workload.slo.e2eP95Ms
  return Object.keys(slo).length > 0 ? slo : undefined
}

/** The flags of `capplan bench` as oclif parses them (src/cli/flags/bench.ts): values, every text flag parsed. */
export interface BenchFlagValues extends ShapeFlags {
  model: string
  /** Deduplicated, in the order given. */
  quant: readonly QuantLevel[]
  /** Concurrency levels, ascending, deduplicated. */
  concurrency?: readonly number[] | undefined
  /** Request rates per second, in the order given. */
  rate?: readonly number[] | undefined
  sweep: boolean
  /** ms. */
  duration?: number | undefined
  /** A fraction (3% = 0.03). */
  precision?: number | undefined
  'max-in-flight'?: number | undefined
  dataset?: string | undefined
  slo?: SloSpec | undefined
  engine: EngineKind
  'model-file'?: string | undefined
  synthetic: boolean
  'server-bin'?: string | undefined
  'vllm-bin'?: string | undefined
  /** Validated (an address or name, trimmed). */
  host?: string | undefined
  api?: string | undefined
  'on-error'?: OnEngineError | undefined
  endpoint?: string | undefined
  'api-key-env'?: string | undefined
  'model-id'?: string | undefined
  gpus?: number | undefined
  /** ms. */
  'startup-timeout': number
  /** ms. */
  'request-timeout'?: number | undefined
  'client-threads'?: number | undefined
  requests?: number | undefined
  workload: string
  'input-tokens'?: number | undefined
  'output-tokens'?: number | undefined
  threads?: number | undefined
  device: 'auto' | 'cpu'
  'results-dir': string
  seed: number
  gpu?: string | undefined
  profiles?: string | undefined
}

/** Everything a bench run needs, resolved from the flags: values only, no flag text left to parse. */
export interface BenchOptions {
  engineKind: EngineKind
  api: EngineApi | null
  /** --host as given (validated); undefined = the engine's loopback default. */
  bindHost: string | undefined
  load: LoadPlan
  startupTimeoutMs: number
  requestTimeoutMs: number | undefined
  /** Client threads reading the streams (src/engines/http/client-threads.ts); 1 = the main thread. */
  clientThreads: number
  quants: QuantLevel[]
  profile: ModelProfile
  workload: WorkloadProfile
  /** The workload profile's id when its lengths are used, null when --input-tokens/--output-tokens override them. */
  workloadProfileId: string | null
  slo: SloSpec | undefined
  dataset: Dataset | undefined
  /** The workload's shape (services/bench/shape.ts); undefined = the control. */
  shape: ResolvedShape | undefined
  inputTokens: number
  outputTokens: number
  /** Requests in flight at most over the whole run (sizes contexts, slots and sequences). */
  maxConcurrency: number
  tokensPerSequence: number
  contextSize: number
  /** embedded/llamacpp without --model-file: serve capplan's synthesized GGUF. */
  synthesize: boolean
  /** --model-file, absolute and known to exist. */
  modelFile: string | undefined
  /** Words after `--`, for the spawned server. */
  extraArgs: string[]
  resultsDir: string
  seed: number
  onError: OnEngineError
  /** --gpu: the GPU profile that prices the result (validated), else the detected one. */
  gpuProfileFlag: string | undefined
  /** The engine-specific flags, passed through as typed values. */
  engineFlags: {
    endpoint: string | undefined
    modelId: string | undefined
    apiKeyEnv: string | undefined
    serverBin: string | undefined
    vllmBin: string | undefined
    gpus: number | undefined
    device: 'auto' | 'cpu'
    synthetic: boolean
    threads: number | undefined
  }
}

/** A flag the chosen engine would ignore is a mistake worth naming, not a silent no-op. */
const ENGINE_ONLY_FLAGS = {
  endpoint: ['openai'],
  'api-key-env': ['openai'],
  'model-id': ['openai'],
  'server-bin': ['llamacpp'],
  'vllm-bin': ['vllm'],
  gpus: ['vllm', 'openai'],
  host: ['llamacpp', 'vllm'],
  'on-error': ['llamacpp', 'vllm'],
  'request-timeout': ['llamacpp', 'vllm', 'openai'],
  'client-threads': ['llamacpp', 'vllm', 'openai'],
} as const satisfies Partial<Record<keyof BenchFlagValues, readonly EngineKind[]>>

/** Flag combinations that cannot work, refused before any profile or file is read. */
export function checkEngineFlags(flags: BenchFlagValues, extraArgs: readonly string[]): void {
  const engineKind = flags.engine
  if (engineKind === 'openai' && flags.endpoint === undefined) {
    throw invalidInput(
      '--engine openai needs --endpoint URL: the server to measure.',
      'Pass e.g. --endpoint http://127.0.0.1:8000 (add --api-key-env NAME when it needs a key).',
    )
  }
  for (const [name, engines] of Object.entries(ENGINE_ONLY_FLAGS) as [keyof typeof ENGINE_ONLY_FLAGS, readonly EngineKind[]][]) {
    if (flags[name] !== undefined && !engines.includes(engineKind)) {
      throw invalidInput(`--${name} only applies to --engine ${engines.join(' or ')}.`, `Drop --${name}, or add --engine ${engines[0]}.`)
    }
  }
  if (flags['model-file'] !== undefined && engineKind !== 'embedded' && engineKind !== 'llamacpp') {
    throw invalidInput(`--model-file is a GGUF for --engine embedded or llamacpp, not ${engineKind}.`, "Drop --model-file (vllm loads the profile's checkpoint).")
  }
  if (flags['model-file'] !== undefined && flags.synthetic) {
    throw invalidInput('--model-file and --synthetic cannot be used together.', 'Give one: a local GGUF, or the synthesized model.')
  }
  if (extraArgs.length > 0 && (engineKind === 'embedded' || engineKind === 'openai')) {
    throw invalidInput(`Extra engine flags after -- (${extraArgs.join(' ')}) only apply to --engine llamacpp or vllm.`, 'Remove them, or pick a spawned engine.')
  }
}

/**
 * The flags -> BenchOptions (and the loaded profile store). `warn` hears what is allowed but risky (a server
 * reachable from the network).
 */
export async function resolveBenchOptions(
  flags: BenchFlagValues,
  extraArgs: string[],
  warn: (message: string) => void,
): Promise<{options: BenchOptions; store: ProfileStore}> {
  checkEngineFlags(flags, extraArgs)
  const engineKind = flags.engine
  const api = engineApiFromFlags(engineKind, flags.api, flags.dataset !== undefined)
  const bindHost = flags.host
  if (bindHost !== undefined && !isLoopbackHost(bindHost)) {
    warn(
      `--host ${bindHost}: the ${engineKind === 'vllm' ? 'vllm' : 'llama-server'} server capplan starts will be reachable from the network, without authentication, while the run lasts.`,
    )
  }
  const flagLoad = loadPlanFromFlags({
    ...(flags.concurrency === undefined ? {} : {concurrency: flags.concurrency}),
    ...(flags.rate === undefined ? {} : {rate: flags.rate}),
    sweep: flags.sweep,
    ...(flags.duration === undefined ? {} : {durationMs: flags.duration}),
    ...(flags.precision === undefined ? {} : {precision: flags.precision}),
    ...(flags.requests === undefined ? {} : {requests: flags.requests}),
    ...(flags['max-in-flight'] === undefined ? {} : {maxInFlight: flags['max-in-flight']}),
    ...(flags.burstiness === undefined ? {} : {burstiness: flags.burstiness}),
    ...(flags['ramp-up'] === undefined ? {} : {rampMs: flags['ramp-up']}),
    trace: flags.trace !== undefined,
    engine: engineKind,
  })
  const startupTimeoutMs = flags['startup-timeout']
  const requestTimeoutMs = flags['request-timeout']
  const quants = [...flags.quant]
  if (engineKind === 'openai' && quants.length > 1) {
    throw invalidInput('--engine openai measures one server: give one --quant (what it serves) or none.', 'Pass e.g. --quant int4.')
  }
  const store = await loadProfiles({...(flags.profiles === undefined ? {} : {userDir: flags.profiles})})
  const profile = store.get('model', flags.model)
  const workload = store.get('workload', flags.workload)
  if (flags.gpu !== undefined) store.get('gpu', flags.gpu) // an unknown id fails now, naming the closest ones
  const slo = flags.slo ?? workloadSlo(workload)
  const dataset: Dataset | undefined = flags.dataset === undefined ? undefined : await loadDataset(flags.dataset, {flag: '--dataset'})
  const flagInput = flags['input-tokens'] ?? workload.inputTokens
  const flagOutput = flags['output-tokens'] ?? workload.outputTokens
  const shape: ResolvedShape | undefined = await resolveShape(flags, workload, {
    load: flagLoad,
    loadFlags: [
      ...(flags.concurrency === undefined ? [] : ['--concurrency']),
      ...(flags.rate === undefined ? [] : ['--rate']),
      ...(flags.sweep ? ['--sweep'] : []),
      ...(flags.duration === undefined ? [] : ['--duration']),
      ...(flags.precision === undefined ? [] : ['--precision']),
    ],
    datasetGiven: flags.dataset !== undefined,
    inputTokens: flagInput,
    outputTokens: flagOutput,
    inputTokensGiven: flags['input-tokens'] !== undefined,
    outputTokensGiven: flags['output-tokens'] !== undefined,
    requests: flags.requests,
    maxInFlight: flags['max-in-flight'] ?? defaultMaxInFlight(engineKind),
    seed: flags.seed,
  })
  const load = shape?.load ?? flagLoad
  const inputTokens = shape?.inputTokens ?? flagInput
  const outputTokens = shape?.outputTokens ?? flagOutput
  const maxConcurrency = peakInFlight(load)
  const {tokensPerSequence, contextSize} = contextSizeFor(maxConcurrency, shape?.maxPromptTokens ?? inputTokens, shape?.maxOutputTokens ?? outputTokens)
  if (tokensPerSequence > profile.contextLength) {
    throw invalidInput(
      shape === undefined
        ? `--input-tokens ${inputTokens} + --output-tokens ${outputTokens} exceed ${profile.id}'s context of ${profile.contextLength} tokens.`
        : `The workload's longest prompt (${shape.maxPromptTokens} tokens) + output (${shape.maxOutputTokens}) exceed ${profile.id}'s context of ${profile.contextLength} tokens.`,
      shape === undefined ? 'Use shorter prompts or outputs.' : 'Use fewer --turns, shorter lengths or a smaller distribution MAX.',
    )
  }
  const modelFile = flags['model-file'] === undefined ? undefined : path.resolve(flags['model-file'])
  if (modelFile !== undefined && !existsSync(modelFile)) {
    throw notFound(`--model-file ${modelFile} does not exist.`, 'Pass the path of a local GGUF file.')
  }
  const options: BenchOptions = {
    engineKind,
    api,
    bindHost,
    load,
    startupTimeoutMs,
    requestTimeoutMs,
    clientThreads: flags['client-threads'] ?? 1,
    quants,
    profile,
    workload,
    workloadProfileId: flags['input-tokens'] === undefined && flags['output-tokens'] === undefined && flags.trace === undefined ? workload.id : null,
    shape,
    slo,
    dataset,
    inputTokens,
    outputTokens,
    maxConcurrency,
    tokensPerSequence,
    contextSize,
    synthesize: (engineKind === 'embedded' || engineKind === 'llamacpp') && flags['model-file'] === undefined,
    modelFile,
    extraArgs,
    resultsDir: path.resolve(flags['results-dir']),
    seed: flags.seed,
    onError: flags['on-error'] ?? 'stop',
    gpuProfileFlag: flags.gpu,
    engineFlags: {
      endpoint: flags.endpoint,
      modelId: flags['model-id'],
      apiKeyEnv: flags['api-key-env'],
      serverBin: flags['server-bin'],
      vllmBin: flags['vllm-bin'],
      gpus: flags.gpus,
      device: flags.device,
      synthetic: flags.synthetic,
      threads: flags.threads,
    },
  }
  return {options, store}
}
