import {randomUUID} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdir, rename, stat, statfs} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {Flags} from '@oclif/core'
import si from 'systeminformation'

import {planCost, type PlanResult} from '../cost/plan.js'
import {contextSizeFor, EmbeddedEngine} from '../engines/embedded.js'
import {LlamaCppEngine} from '../engines/llamacpp/engine.js'
import {OpenAiEngine} from '../engines/openai.js'
import {isLoopbackHost} from '../engines/spawned/process.js'
import type {Engine} from '../engines/types.js'
import {vllmCheckpoint, VllmEngine} from '../engines/vllm.js'
import {cachedModelPath, DEFAULT_SEED, ensureSyntheticModel, estimateSyntheticFileBytes} from '../gguf/synth.js'
import {capplanCacheDir} from '../lib/cache.js'
import {CapplanCommand} from '../cli/base-command.js'
import {CapplanError, invalidInput, notFound} from '../lib/errors.js'
import {createStatusLine} from '../cli/progress.js'
import {benchExitCode, type BenchProgress, type LoadPlan, ON_ENGINE_ERROR, peakInFlight, runBench} from '../loadgen/run.js'
import {type Dataset, loadDataset} from '../loadgen/dataset.js'
import {parseRates} from '../loadgen/open-loop.js'
import {readResultFile} from '../results/read.js'
import {parseDuration, parsePrecision, PRECISION_DEFAULTS, precisionRule, type StopRule} from '../loadgen/stop-rules.js'
import {SWEEP_DEFAULTS} from '../loadgen/sweep.js'
import {assertFitsInMemory, assertFitsOnDisk, busyMachineWarning, estimateRunMemory} from '../services/bench/preflight.js'
import {gpuHourlyPrice, loadProfiles, resolveApiPrice, type ProfileStore} from '../profiles/store.js'
import {type ModelProfile, type QuantLevel, quantLevels, type WorkloadProfile} from '../profiles/schema.js'
import {renderPlanTable} from '../report/render/plan-table.js'
import {buildResultReport} from '../report/build/result-report.js'
import {renderBenchSummary, type SummaryRun} from '../report/render/summary-table.js'
import type {LevelRecord, LevelSummary, ResultFile, SloSpec} from '../results/schema.js'
import {quoteArgv, redactArgv} from '../lib/redact.js'
import {formatSlo, parseSlo} from '../stats/slo.js'
import {detectHostGpuProfileId, physicalCoreCount, snapshotHost} from '../telemetry/host.js'

/** Defaults of `capplan bench` with no flags (README's main command): a few minutes on a 2-core CPU. */
export const BENCH_DEFAULTS = {
  model: 'qwen2.5-0.5b',
  quant: 'int4',
  concurrency: '1,2,4',
  workload: 'chat',
  seed: 1,
  resultsDir: 'results',
} as const

export const ENGINE_KINDS = ['embedded', 'llamacpp', 'vllm', 'openai'] as const
export type EngineKind = (typeof ENGINE_KINDS)[number]

/**
 * --max-in-flight default of an open loop (--rate): local CPU-class engines reserve KV memory per sequence
 * (embedded: sequences in the context; llama-server: -np slots), so 16; a vLLM server or an endpoint
 * schedules its own batch, so 256.
 */
export function defaultMaxInFlight(engine: EngineKind): number {
  return engine === 'embedded' || engine === 'llamacpp' ? 16 : 256
}

/** The request APIs of the engines that have a choice (--api); the first is the default. */
export const ENGINE_APIS = {
  llamacpp: ['completion', 'v1-completions'],
  openai: ['completions', 'chat'],
} as const
export type EngineApi = (typeof ENGINE_APIS)[keyof typeof ENGINE_APIS][number]
const ALL_APIS = [...ENGINE_APIS.llamacpp, ...ENGINE_APIS.openai] as const

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

/** Words of a command line as quoteArgv writes it: plain words, or '...' with '\'' for a quote inside. */
export function shellWords(command: string): string[] {
  const words: string[] = []
  let word: string | null = null
  for (let i = 0; i < command.length; i++) {
    const char = command[i]!
    if (char === "'") {
      const end = command.indexOf("'", i + 1)
      if (end === -1) throw invalidInput(`The recorded command has an unterminated quote: ${command}`, 'Run capplan bench again with the flags you want.')
      word = (word ?? '') + command.slice(i + 1, end)
      i = end
    } else if (char === '\\' && i + 1 < command.length) {
      word = (word ?? '') + command[++i]
    } else if (char === ' ') {
      if (word !== null) words.push(word)
      word = null
    } else {
      word = (word ?? '') + char
    }
  }
  if (word !== null) words.push(word)
  return words
}

/** What `--resume FILE` runs: the recorded command for the levels the file lacks, and the levels it keeps. */
export interface ResumePlan {
  /** Arguments for `capplan bench` (the recorded ones, with --model/--quant of the file, the missing levels, --results-dir beside it). */
  argv: string[]
  /** The file's complete levels, copied into the new file as they are. */
  kept: LevelRecord[]
  /** Loads re-run (concurrency values or rates). */
  rerun: number[]
}

/** The value of `--name V` / `--name=V` in argv (before any `--`), or undefined. */
function flagValue(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') break
    if (arg === name) return argv[i + 1]
    if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1)
  }
  return undefined
}

/** argv without `--name V` / `--name=V` / a bare `--name` (boolean), before any `--`. */
function withoutFlag(argv: readonly string[], name: string, takesValue: boolean): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') return [...out, ...argv.slice(i)]
    if (arg === name) {
      if (takesValue) i++
      continue
    }
    if (arg.startsWith(`${name}=`)) continue
    out.push(arg)
  }
  return out
}

/**
 * --resume: repeat the file's recorded `capplan bench` command for its model and quantization, only for the
 * planned levels (--concurrency or --rate list, default 1,2,4) that are not complete in the file; the new
 * result file goes beside it. A --sweep decides its levels as it runs and cannot be resumed; a recorded
 * command with a redacted secret cannot be repeated.
 */
export function resumePlan(file: ResultFile, filePath: string): ResumePlan {
  if (file.status === 'complete') {
    throw invalidInput(`--resume ${filePath}: every level of this run is complete; there is nothing to resume.`, 'Run capplan bench to measure more levels.')
  }
  const words = shellWords(file.capplan.command)
  if (words[0] !== 'capplan' || words[1] !== 'bench') {
    throw invalidInput(`--resume ${filePath}: the file was not written by capplan bench (its command is "${file.capplan.command}").`, 'Resume a file that capplan bench wrote.')
  }
  let argv = words.slice(2)
  if (argv.includes('***')) {
    throw invalidInput(`--resume ${filePath}: the recorded command held a secret, stored as ***, so capplan cannot repeat it.`, 'Run capplan bench again with the same flags.')
  }
  if (argv.includes('--sweep')) {
    throw invalidInput(`--resume ${filePath}: a --sweep picks its levels as it runs, so there is no list of missing levels to resume.`, 'Run capplan bench --sweep again, or --concurrency with the levels you want.')
  }
  const rate = flagValue(argv, '--rate')
  const planned = rate === undefined ? parseConcurrencyList(flagValue(argv, '--concurrency') ?? BENCH_DEFAULTS.concurrency) : parseRates(rate, '--rate')
  const kind = rate === undefined ? 'concurrency' : 'rate'
  const kept = file.levels.filter((level) => level.status === 'complete' && level.load.kind === kind && planned.includes(level.load.value))
  const rerun = planned.filter((value) => !kept.some((level) => level.load.value === value))
  if (rerun.length === 0) {
    throw invalidInput(`--resume ${filePath}: every planned level is complete in the file.`, 'Nothing to resume; run capplan bench for other levels.')
  }
  for (const [flag, takesValue] of [['--json', false], ['--resume', true], ['--model', true], ['--quant', true], ['--concurrency', true], ['--rate', true], ['--results-dir', true]] as const) {
    argv = withoutFlag(argv, flag, takesValue)
  }
  const separator = argv.indexOf('--')
  const own = separator === -1 ? argv : argv.slice(0, separator)
  const extra = separator === -1 ? [] : argv.slice(separator)
  return {
    argv: [
      ...own,
      '--model', file.model.profile,
      '--quant', file.model.quant,
      kind === 'rate' ? '--rate' : '--concurrency', rerun.join(','),
      '--results-dir', path.dirname(path.resolve(filePath)),
      ...extra,
    ],
    kept,
    rerun,
  }
}

/** --host: an address or name, as a server's --host flag takes it (no spaces, no scheme or port). */
export function parseBindHost(host: string): string {
  const value = host.trim()
  if (value === '' || /[\s/]/.test(value) || /^[a-z]+:\/\//i.test(value)) {
    throw invalidInput(`--host "${host}" is not an address.`, 'Pass an address to bind, e.g. --host 127.0.0.1 (default) or --host 0.0.0.0 (every interface).')
  }
  return value
}

/** Requests per --rate level when neither --requests, --duration nor --precision is given. */
export const DEFAULT_RATE_REQUESTS = 10

export interface LoadFlags {
  concurrency?: string
  rate?: string
  sweep: boolean
  duration?: string
  precision?: string
  requests?: number
  maxInFlight?: number
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
  if (f.duration !== undefined && f.precision !== undefined) {
    throw invalidInput('--duration and --precision cannot be used together: each decides when a level ends.', 'Give one, e.g. --duration 60s or --precision 3%.')
  }
  if (f.maxInFlight !== undefined && f.rate === undefined) {
    throw invalidInput('--max-in-flight only applies to --rate (open loop).', 'Drop it, or use --rate LIST.')
  }
  const cap = f.requests ?? PRECISION_DEFAULTS.maxRequests
  const timed: StopRule | null =
    f.duration !== undefined
      ? {kind: 'duration', durationMs: parseDuration(f.duration, '--duration'), maxRequests: cap}
      : f.precision !== undefined
        ? precisionRule(parsePrecision(f.precision, '--precision'), {maxRequests: cap, minRequests: Math.min(PRECISION_DEFAULTS.minRequests, cap)})
        : null
  const stopFor = (concurrency: number): StopRule => timed ?? {kind: 'requests', requests: f.requests ?? defaultRequestsFor(concurrency)}
  if (f.rate !== undefined) {
    const maxInFlight = f.maxInFlight ?? defaultMaxInFlight(f.engine)
    return {kind: 'rate', rates: parseRates(f.rate, '--rate'), stop: timed ?? {kind: 'requests', requests: f.requests ?? DEFAULT_RATE_REQUESTS}, maxInFlight}
  }
  if (f.sweep) return {kind: 'sweep', maxConcurrency: SWEEP_DEFAULTS.maxConcurrency, minGain: SWEEP_DEFAULTS.minGain, stopFor}
  return {kind: 'concurrency', concurrencies: parseConcurrencyList(f.concurrency ?? BENCH_DEFAULTS.concurrency), stopFor}
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

/** "int4,fp16" -> ['int4', 'fp16'] (deduplicated, order kept); anything else is INVALID_INPUT naming the flag. */
export function parseQuantList(text: string): QuantLevel[] {
  const items = text.split(',').map((item) => item.trim().toLowerCase()).filter((item) => item !== '')
  if (items.length === 0) throw invalidInput('--quant is empty.', `Give one or more of ${quantLevels.join(', ')}, e.g. --quant int4,fp16.`)
  for (const item of items) {
    if (!(quantLevels as readonly string[]).includes(item)) {
      throw invalidInput(`--quant "${item}" is not a quantization level.`, `Use ${quantLevels.join(', ')} (comma-separated for several), e.g. --quant int4,fp16.`)
    }
  }
  return [...new Set(items)] as QuantLevel[]
}

/** "1,2,4" -> [1, 2, 4] (deduplicated, ascending); each a whole number >= 1, at most 256. */
export function parseConcurrencyList(text: string): number[] {
  const items = text.split(',').map((item) => item.trim()).filter((item) => item !== '')
  if (items.length === 0) throw invalidInput('--concurrency is empty.', 'Give e.g. --concurrency 1,2,4.')
  const values = items.map((item) => {
    const value = Number(item)
    if (!/^\d+$/.test(item) || !Number.isInteger(value) || value < 1 || value > 256) {
      throw invalidInput(`--concurrency "${item}" is not a whole number from 1 to 256.`, 'Give e.g. --concurrency 1,2,4,8.')
    }
    return value
  })
  return [...new Set(values)].sort((a, b) => a - b)
}

/** The workload SLO (p95 thresholds) as per-request thresholds for goodput; undefined when it sets none. */
export function workloadSlo(workload: WorkloadProfile): SloSpec | undefined {
  const slo: SloSpec = {}
  if (workload.slo.ttftP95Ms !== null) slo.ttftMs = workload.slo.ttftP95Ms
  if (workload.slo.tpotP95Ms !== null) slo.tpotMs = workload.slo.tpotP95Ms
  if (workload.slo.e2eP95Ms !== null) slo.e2eMs = workload.slo.e2eP95Ms
  return Object.keys(slo).length > 0 ? slo : undefined
}

/** The level with the highest total tok/s among levels with successful requests, or null. */
export function bestLevel(result: ResultFile): {concurrency: number; load: LevelRecord['load']; summary: LevelSummary} | null {
  let best: {concurrency: number; load: LevelRecord['load']; summary: LevelSummary} | null = null
  for (const level of result.levels) {
    if (level.summary.requests.completed === 0) continue
    if (best === null || level.summary.throughput.totalTokensPerS > best.summary.throughput.totalTokensPerS) {
      best = {concurrency: level.load.value, load: level.load, summary: level.summary}
    }
  }
  return best
}

export interface BenchJsonRun {
  file: string
  model: string
  quant: QuantLevel
  format: string
  status: ResultFile['status']
  /** concurrency = load.value (kept for readers of the first format; a rate level holds its req/s there). */
  levels: {load: {kind: 'concurrency' | 'rate'; value: number}; concurrency: number; status: string; summary: LevelSummary}[]
}

export interface BenchJsonCost {
  model: string
  quant: QuantLevel
  /**
   * slo-operating-point: the highest throughput meeting the SLO, as `capplan report` finds it (measured or
   * interpolated); highest-throughput: no level met the SLO, so the highest measured throughput is costed.
   */
  basis: 'slo-operating-point' | 'highest-throughput'
  slo: SloSpec
  /** Why this point, in words. */
  note: string
  load: {kind: 'concurrency' | 'rate'; value: number}
  /** load.value (kept for readers of the first format). */
  concurrency: number
  totalTokensPerSecond: number
  gpuProfile: string
  plan: PlanResult
}

export interface BenchJson {
  results: BenchJsonRun[]
  cost: BenchJsonCost[]
}

interface BenchModel {
  format: string
  file: string | null
  sha256: string | null
  bytes: number | null
  synthetic: boolean
  repo: string | null
}

interface EngineSetup {
  modelPath: string
  quant: QuantLevel
  profile: ModelProfile
  threads: number | null
  maxConcurrency: number
  tokensPerSequence: number
  inputTokens: number
  outputTokens: number
  extraArgs: string[]
  logFile: string | undefined
  startupTimeoutMs: number
  requestTimeoutMs: number | undefined
  api: EngineApi | null
  host: string | undefined
}

export default class Bench extends CapplanCommand<typeof Bench> {
  static override summary = 'Measure throughput and latency (embedded llama.cpp, llama-server, vLLM or any OpenAI-compatible endpoint), then cost the SLO operating point against API prices.'

  static override description = [
    'With no flags: synthesizes (once, cached) a random-weight GGUF with Qwen2.5-0.5B\'s exact architecture at int4 (Q4_0), loads it in-process with node-llama-cpp\'s prebuilt llama.cpp (CPU here; a GPU where its binaries find one), runs a warmup and then closed-loop levels at concurrency 1, 2 and 4 with the `chat` workload\'s shape (512 prompt tokens, 256 output tokens, EOS ignored, a unique prompt per request), writes a result file into results/ (saved after every level) and prints the per-level summary and the monthly cost of the best level\'s throughput on the `cpu` profile (or the detected GPU) against every API profile.',
    'Throughput of a dense model does not depend on weight values, so the synthetic copy measures what the real model would on the same hardware; the generated text is meaningless.',
    'Other engines: --engine llamacpp spawns llama-server (log kept beside the result file as <name>.server.log), --engine vllm spawns vllm serve, --engine openai measures a running server at --endpoint. Extra engine flags go after `--`.',
    'Load modes: --concurrency (closed loop), --rate (open loop, Poisson), --sweep; each level ends after --requests, --duration or --precision. The cost line uses the highest throughput that meets the SLO (--slo, else the workload\'s), found as `capplan report` does; when no level meets it, the highest measured throughput is costed and labeled so.',
    'Ctrl-C (or SIGTERM) stops the run, stops any server, keeps the levels measured so far (status "interrupted") and exits 130.',
    'A spawned server that dies during a run: the level is saved as failed with the requests finished before and the server\'s last log lines in the notes; --on-error stop (default) ends that quantization\'s run, --on-error continue restarts the server. Exit code 9 (PARTIAL_RUN) when any level failed.',
  ].join('\n\n')

  static override examples = [
    {description: 'The default run (a few minutes on a 2-core CPU)', command: '<%= config.bin %> <%= command.id %>'},
    {
      description: 'Compare quantizations: one result file each, one summary table',
      command: '<%= config.bin %> <%= command.id %> --quant int4,int8,fp16 --concurrency 1,2 --requests 4',
    },
    {
      description: 'A short custom shape, machine-readable output',
      command: '<%= config.bin %> <%= command.id %> --input-tokens 128 --output-tokens 64 --concurrency 1,4 --json',
    },
    {
      description: 'llama-server on the synthesized model, three quantizations',
      command: '<%= config.bin %> <%= command.id %> --engine llamacpp --synthetic --model qwen2.5-0.5b --quant int4,int8,fp16 --concurrency 1,2,4',
    },
    {description: 'llama-server on your own GGUF, extra server flags after --', command: '<%= config.bin %> <%= command.id %> --engine llamacpp --model-file ./model.gguf -- --mlock'},
    {
      description: 'llama-server through its OpenAI-compatible POST /v1/completions; if the server dies, restart it and go on',
      command: '<%= config.bin %> <%= command.id %> --engine llamacpp --synthetic --api v1-completions --on-error continue --concurrency 1,4,16',
    },
    {
      description: 'A chat endpoint with text prompts (chat needs --dataset)',
      command: '<%= config.bin %> <%= command.id %> --engine openai --endpoint http://127.0.0.1:8000 --api chat --dataset prompts.jsonl --concurrency 1,8',
    },
    {description: 'vLLM on 2 GPUs (tensor parallel)', command: '<%= config.bin %> <%= command.id %> --model qwen2.5-72b --quant int4 --engine vllm --gpus 2'},
    {
      description: 'A running server, open loop at three rates, 60 s per level, your SLO',
      command: '<%= config.bin %> <%= command.id %> --engine openai --endpoint http://10.0.0.5:8000 --api-key-env MY_KEY --gpus 1 --rate 0.5,1,2 --duration 60s --slo ttft=2s,tpot=50ms',
    },
    {
      description: 'Measure again the levels a run lacks (failed, interrupted, never reached): a new file beside it',
      command: '<%= config.bin %> <%= command.id %> --resume results/20261122T074935Z_vm_cpu_qwen2.5-0.5b_int4_llamacpp.json',
    },
    {description: 'Find the knee: raise concurrency until throughput stops growing', command: '<%= config.bin %> <%= command.id %> --sweep --precision 5%'},
    {description: 'Text prompts from a dataset', command: '<%= config.bin %> <%= command.id %> --dataset prompts.jsonl --concurrency 1,4'},
  ]

  // Extra engine flags follow `--` (e.g. `-- --mlock`); unknown words before it are refused in run().
  static override strict = false

  static override flags = {
    model: Flags.string({summary: 'Model profile id (see `capplan profiles list --kind model`).', default: BENCH_DEFAULTS.model, helpValue: 'ID'}),
    quant: Flags.string({
      summary: `Quantization(s), comma-separated: ${quantLevels.join(', ')} (int4 = Q4_0, int8 = Q8_0, fp16 = F16).`,
      default: BENCH_DEFAULTS.quant,
      helpValue: 'LIST',
    }),
    concurrency: Flags.string({
      summary: `Closed loop: concurrency levels (requests in flight), comma-separated [default: ${BENCH_DEFAULTS.concurrency}]. Not with --rate or --sweep.`,
      helpValue: 'LIST',
    }),
    rate: Flags.string({
      summary: 'Open loop: Poisson arrival rates in requests/s, comma-separated (seeded by --seed), e.g. --rate 0.5,1,2. Not with --concurrency or --sweep.',
      helpValue: 'LIST',
    }),
    sweep: Flags.boolean({
      summary: 'Closed loop from concurrency 1, doubling until total throughput grows < 5%, the SLO breaks or 64 is reached.',
      default: false,
    }),
    duration: Flags.string({summary: 'End each level after this long, e.g. 60s, 2m (--requests then caps it; default cap 1000).', helpValue: 'DURATION'}),
    precision: Flags.string({
      summary: 'End each level when the 95% CI of output tok/s is within this, e.g. 3% (--requests then caps it; default cap 1000).',
      helpValue: 'PERCENT',
    }),
    'max-in-flight': Flags.integer({
      summary: 'With --rate: requests running at once at most (embedded/llamacpp default 16 = their sequences/slots; vllm/openai 256).',
      min: 1,
      max: 4096,
    }),
    dataset: Flags.string({summary: 'Text prompts from a JSONL file ({"prompt": "..."} or {"messages": [...]} per line) instead of synthetic token ids.', helpValue: 'FILE'}),
    slo: Flags.string({
      summary: 'Latency target for goodput and the costed operating point, e.g. ttft=2s,tpot=50ms (default: the workload\'s SLO).',
      helpValue: 'SPEC',
    }),
    engine: Flags.option({
      options: ENGINE_KINDS,
      default: 'embedded' as const,
      summary: 'embedded: llama.cpp in-process; llamacpp: spawn llama-server; vllm: spawn vllm serve; openai: an already running OpenAI-compatible --endpoint.',
    })(),
    'model-file': Flags.string({summary: 'A local GGUF to serve (embedded, llamacpp) instead of the synthesized model.', helpValue: 'FILE'}),
    synthetic: Flags.boolean({
      summary: 'Random weights with the real architecture: embedded/llamacpp serve capplan\'s synthesized GGUF (their default without --model-file); vllm adds --load-format dummy.',
      default: false,
    }),
    'server-bin': Flags.string({summary: 'llama-server binary (default: $CAPPLAN_LLAMA_BIN_DIR, capplan\'s own build, then PATH).', helpValue: 'PATH'}),
    'vllm-bin': Flags.string({summary: 'vllm executable (default: vllm on PATH).', helpValue: 'PATH'}),
    host: Flags.string({
      summary: 'With --engine llamacpp or vllm: the address the spawned server binds [default: 127.0.0.1, this machine only]; 0.0.0.0 makes it reachable from the network (a warning says so).',
      helpValue: 'ADDR',
    }),
    api: Flags.option({
      options: ALL_APIS,
      summary: 'The request API. llamacpp: completion (POST /completion, default) or v1-completions (POST /v1/completions); openai: completions (POST /v1/completions, default) or chat (POST /v1/chat/completions, needs --dataset).',
    })(),
    'on-error': Flags.option({
      options: ON_ENGINE_ERROR,
      summary: 'With --engine llamacpp or vllm, when the server dies during a run [default: stop]: stop = that level is saved as failed (its finished requests kept, the server\'s last log lines in the notes) and this quantization\'s run ends, the next --quant still runs on a new server; continue = restart the server and go on with the next level.',
    })(),
    endpoint: Flags.string({summary: 'With --engine openai: the server\'s base URL, e.g. http://10.0.0.5:8000.', helpValue: 'URL'}),
    'api-key-env': Flags.string({summary: 'With --engine openai: the environment variable holding the API key (the key is never stored).', helpValue: 'NAME'}),
    'model-id': Flags.string({summary: 'With --engine openai: the model name the server expects (default: the first of GET /v1/models).', helpValue: 'NAME'}),
    gpus: Flags.integer({summary: 'GPUs one replica uses: vllm --tensor-parallel-size (default 1); for openai, the GPUs behind the endpoint (costing).', min: 0, max: 64}),
    'startup-timeout': Flags.string({summary: 'Give up waiting for a spawned server to become ready after this long.', default: '10m', helpValue: 'DURATION'}),
    'request-timeout': Flags.string({summary: 'Fail a request that takes longer than this (default 10m).', helpValue: 'DURATION'}),
    requests: Flags.integer({summary: 'Measured requests per level (default: 2 x concurrency, at least 4).', min: 1, max: 100_000}),
    workload: Flags.string({summary: 'Workload profile: prompt/output lengths and the SLO for goodput.', default: BENCH_DEFAULTS.workload, helpValue: 'ID'}),
    'input-tokens': Flags.integer({summary: 'Prompt tokens per request (overrides the workload).', min: 1, max: 131_072}),
    'output-tokens': Flags.integer({summary: 'Output tokens per request (overrides the workload).', min: 1, max: 131_072}),
    threads: Flags.integer({summary: 'CPU threads for llama.cpp (default: physical cores).', min: 1, max: 1024}),
    device: Flags.option({options: ['auto', 'cpu'] as const, default: 'auto' as const, summary: 'auto: a GPU when the prebuilt binaries find one; cpu: CPU only.'})(),
    'results-dir': Flags.string({summary: 'Where result files are written.', default: BENCH_DEFAULTS.resultsDir, helpValue: 'DIR'}),
    seed: Flags.integer({summary: 'Seed of the synthetic prompts.', default: BENCH_DEFAULTS.seed}),
    resume: Flags.string({
      summary: 'Repeat the run recorded in FILE (its command, model and quantization) for the levels it lacks: a NEW file beside it holds its complete levels plus the new ones. No other flags (except --json, --profiles).',
      helpValue: 'FILE',
    }),
    gpu: Flags.string({
      summary: 'GPU profile whose on-demand price costs the result (default: the detected GPU, or `cpu` on a CPU run).',
      helpValue: 'ID',
    }),
  }

  public async run(): Promise<BenchJson> {
    const resumed = this.flags.resume === undefined ? undefined : await this.resume(this.flags.resume)
    const {flags} = this
    const engineKind = flags.engine
    const extraArgs = this.engineExtraArgs()
    if (engineKind === 'openai' && flags.endpoint === undefined) {
      throw invalidInput('--engine openai needs --endpoint URL: the server to measure.', 'Pass e.g. --endpoint http://127.0.0.1:8000 (add --api-key-env NAME when it needs a key).')
    }
    // A flag the chosen engine would ignore is a mistake worth naming, not a silent no-op.
    const engineOnly = {
      endpoint: ['openai'],
      'api-key-env': ['openai'],
      'model-id': ['openai'],
      'server-bin': ['llamacpp'],
      'vllm-bin': ['vllm'],
      gpus: ['vllm', 'openai'],
      host: ['llamacpp', 'vllm'],
      'on-error': ['llamacpp', 'vllm'],
      'request-timeout': ['llamacpp', 'vllm', 'openai'],
    } as const satisfies Partial<Record<keyof typeof flags, readonly EngineKind[]>>
    for (const [name, engines] of Object.entries(engineOnly) as [keyof typeof engineOnly, readonly EngineKind[]][]) {
      if (flags[name] !== undefined && !engines.includes(engineKind)) {
        throw invalidInput(`--${name} only applies to --engine ${engines.join(' or ')}.`, `Drop --${name}, or add --engine ${engines[0]}.`)
      }
    }
    if (flags['model-file'] !== undefined && engineKind !== 'embedded' && engineKind !== 'llamacpp') {
      throw invalidInput(`--model-file is a GGUF for --engine embedded or llamacpp, not ${engineKind}.`, 'Drop --model-file (vllm loads the profile\'s checkpoint).')
    }
    if (flags['model-file'] !== undefined && flags.synthetic) {
      throw invalidInput('--model-file and --synthetic cannot be used together.', 'Give one: a local GGUF, or the synthesized model.')
    }
    if (extraArgs.length > 0 && (engineKind === 'embedded' || engineKind === 'openai')) {
      throw invalidInput(`Extra engine flags after -- (${extraArgs.join(' ')}) only apply to --engine llamacpp or vllm.`, 'Remove them, or pick a spawned engine.')
    }
    const api = engineApiFromFlags(engineKind, flags.api, flags.dataset !== undefined)
    const bindHost = flags.host === undefined ? undefined : parseBindHost(flags.host)
    if (bindHost !== undefined && !isLoopbackHost(bindHost)) {
      this.warnLine(`--host ${bindHost}: the ${engineKind === 'vllm' ? 'vllm' : 'llama-server'} server capplan starts will be reachable from the network, without authentication, while the run lasts.`)
    }
    const load = loadPlanFromFlags({
      ...(flags.concurrency === undefined ? {} : {concurrency: flags.concurrency}),
      ...(flags.rate === undefined ? {} : {rate: flags.rate}),
      sweep: flags.sweep,
      ...(flags.duration === undefined ? {} : {duration: flags.duration}),
      ...(flags.precision === undefined ? {} : {precision: flags.precision}),
      ...(flags.requests === undefined ? {} : {requests: flags.requests}),
      ...(flags['max-in-flight'] === undefined ? {} : {maxInFlight: flags['max-in-flight']}),
      engine: engineKind,
    })
    const startupTimeoutMs = parseDuration(flags['startup-timeout'], '--startup-timeout')
    const requestTimeoutMs = flags['request-timeout'] === undefined ? undefined : parseDuration(flags['request-timeout'], '--request-timeout')
    const quants = parseQuantList(flags.quant)
    if (engineKind === 'openai' && quants.length > 1) {
      throw invalidInput('--engine openai measures one server: give one --quant (what it serves) or none.', 'Pass e.g. --quant int4.')
    }
    const store = await loadProfiles({userDir: flags.profiles})
    const profile = store.get('model', flags.model)
    const workload = store.get('workload', flags.workload)
    if (flags.gpu !== undefined) store.get('gpu', flags.gpu) // an unknown id fails now, naming the closest ones
    const slo = flags.slo === undefined ? workloadSlo(workload) : parseSlo(flags.slo, '--slo')
    const dataset: Dataset | undefined = flags.dataset === undefined ? undefined : await loadDataset(flags.dataset, {flag: '--dataset'})
    const inputTokens = flags['input-tokens'] ?? workload.inputTokens
    const outputTokens = flags['output-tokens'] ?? workload.outputTokens
    const maxConcurrency = peakInFlight(load)
    const {tokensPerSequence, contextSize} = contextSizeFor(maxConcurrency, inputTokens, outputTokens)
    if (tokensPerSequence > profile.contextLength) {
      throw invalidInput(
        `--input-tokens ${inputTokens} + --output-tokens ${outputTokens} exceed ${profile.id}'s context of ${profile.contextLength} tokens.`,
        'Use shorter prompts or outputs.',
      )
    }
    const synthesize = (engineKind === 'embedded' || engineKind === 'llamacpp') && flags['model-file'] === undefined

    // Refuse a model this machine cannot hold before synthesizing anything (all quants first).
    if (synthesize) {
      const available = await availableMemoryBytes()
      const fileBytes = new Map(quants.map((quant) => [quant, estimateSyntheticFileBytes(profile, quant)]))
      for (const quant of quants) {
        assertFitsInMemory(profile, quant, estimateRunMemory(profile, fileBytes.get(quant)!, contextSize), available)
      }
      const toWrite = quants
        .filter((quant) => !existsSync(cachedModelPath(profile, quant, DEFAULT_SEED)))
        .map((quant) => ({quant, bytes: fileBytes.get(quant)!}))
      if (toWrite.length > 0) {
        const cacheDir = path.join(capplanCacheDir(), 'models')
        assertFitsOnDisk(profile, toWrite, await freeDiskBytes(cacheDir), cacheDir)
      }
    }
    const modelFile = flags['model-file'] === undefined ? undefined : path.resolve(flags['model-file'])
    if (modelFile !== undefined && !existsSync(modelFile)) {
      throw notFound(`--model-file ${modelFile} does not exist.`, 'Pass the path of a local GGUF file.')
    }

    const local = engineKind === 'embedded' || engineKind === 'llamacpp'
    const threads = flags.threads ?? (local ? await physicalCoreCount() : null)
    const loadBefore = os.loadavg()[0]!
    const busy = threads === null ? null : busyMachineWarning(loadBefore, os.availableParallelism(), threads)
    if (busy !== null) this.info(`Warning: ${busy}`)
    const host = await snapshotHost()
    const resultsDir = path.resolve(flags['results-dir'])
    const status = createStatusLine({enabled: !this.jsonEnabled()})
    const controller = new AbortController()
    const onSigint = () => {
      // A second Ctrl-C means "now": the file on disk already holds every finished level.
      if (controller.signal.aborted) process.exit(130)
      status.clear()
      this.warnLine('Interrupted: saving what was measured so far (Ctrl-C again to quit at once)...')
      controller.abort()
    }
    // SIGTERM (a scheduler, `kill`, a container stop) is an interruption too: save what was measured, exit 130.
    process.on('SIGINT', onSigint)
    process.on('SIGTERM', onSigint)

    const runs: {result: ResultFile; path: string}[] = []
    try {
      for (const quant of quants) {
        if (controller.signal.aborted) break
        const label = `${profile.id} ${quant}`
        let model: BenchModel
        if (synthesize) {
          status.update(`${label}: preparing the synthetic model...`, true)
          const synth = await ensureSyntheticModel({
            profile,
            quant,
            onProgress: (done, total) => status.update(`${label}: writing the synthetic model ${Math.floor((100 * done) / total)}%`),
          })
          status.log(`${label}: ${synth.reused ? 'reusing' : 'wrote'} ${synth.path} (${synth.format}, ${(synth.bytes / 2 ** 20).toFixed(0)} MiB)`)
          model = {format: synth.format, file: synth.path, sha256: synth.sha256, bytes: synth.bytes, synthetic: true, repo: null}
        } else if (modelFile !== undefined) {
          model = {format: 'gguf', file: modelFile, sha256: null, bytes: (await stat(modelFile)).size, synthetic: false, repo: null}
        } else if (engineKind === 'vllm') {
          const checkpoint = vllmCheckpoint(profile, quant)
          model = {format: checkpoint.format, file: null, sha256: null, bytes: null, synthetic: flags.synthetic, repo: checkpoint.repo}
        } else {
          model = {format: 'remote', file: null, sha256: null, bytes: null, synthetic: false, repo: null}
        }
        if (controller.signal.aborted) break
        // The server's log goes beside the result file; its name is only known once the file exists.
        let serverLog: string | undefined
        if (engineKind === 'llamacpp' || engineKind === 'vllm') {
          await mkdir(resultsDir, {recursive: true})
          serverLog = path.join(resultsDir, `.capplan-server-${randomUUID()}.log`)
        }
        const engine = this.makeEngine(engineKind, {
          modelPath: model.file ?? '',
          quant,
          profile,
          threads,
          maxConcurrency,
          tokensPerSequence,
          inputTokens,
          outputTokens,
          extraArgs,
          logFile: serverLog,
          startupTimeoutMs,
          requestTimeoutMs,
          api,
          host: bindHost,
        })
        status.update(`${label}: starting the ${engineKind} engine...`, true)
        let outcome: {result: ResultFile; path: string} | undefined
        // Known as soon as the file exists: the server log goes beside it even when the run then throws.
        let resultPath: string | undefined
        try {
          await engine.start()
          const info = engine.info()
          const gpuProfile = info.gpuCount > 0 && (engineKind !== 'openai' || isLoopbackEndpoint(flags.endpoint!)) ? detectHostGpuProfileId(store, host) : null
          outcome = await runBench(
            {
              load,
              inputTokens,
              outputTokens,
              seed: flags.seed,
              warmupOutputTokens: Math.min(outputTokens, 8),
              ...(slo === undefined ? {} : {slo}),
              ...(dataset === undefined ? {} : {dataset}),
              scrapeMetrics: engineKind !== 'openai' || isLoopbackEndpoint(flags.endpoint!),
              onError: flags['on-error'] ?? 'stop',
            },
            {
              engine,
              profile,
              quant,
              model,
              workloadProfile: flags['input-tokens'] === undefined && flags['output-tokens'] === undefined ? workload.id : null,
              host,
              gpuProfile,
              resultsDir,
              capplan: {version: this.config.version, command: quoteArgv(redactArgv(['capplan', 'bench', ...this.argv]))},
              notes: runNotes(engineKind, model.synthetic, threads, loadBefore, api),
              signal: controller.signal,
              onProgress: (progress) => this.showProgress(status, label, progress),
              serverLogKeptAs: keptServerLog,
              onResultFile: (file) => {
                resultPath = file
              },
              ...(resumed === undefined ? {} : {resumedFrom: resumed}),
            },
          )
          runs.push(outcome)
          status.log(`${label}: result file ${path.relative(process.cwd(), outcome.path) || outcome.path} (${outcome.result.status})`)
        } finally {
          await engine.stop()
          if (serverLog !== undefined && resultPath !== undefined) {
            await rename(serverLog, keptServerLog(resultPath)).catch(() => undefined)
          }
        }
      }
    } finally {
      process.off('SIGINT', onSigint)
      process.off('SIGTERM', onSigint)
      status.clear()
    }

    const payload = this.payload(runs, store, slo)
    if (!this.jsonEnabled()) this.render(runs, payload)
    if (controller.signal.aborted) {
      const saved = runs.map((run) => run.path).join(', ')
      throw new CapplanError(
        'INTERRUPTED',
        `Interrupted. ${saved === '' ? 'Nothing was measured yet.' : `Saved what was measured in ${saved}.`}`,
        'Run capplan bench again to measure the remaining levels.',
      )
    }
    const exitCode = benchExitCode(runs.map((run) => run.result.status))
    if (exitCode !== 0) {
      const incomplete = runs.filter((run) => run.result.status !== 'complete').map((run) => `${run.path} (${run.result.status})`)
      this.warnLine(`some levels failed; the result files keep every measurement: ${incomplete.join(', ')}. Exit code ${exitCode} (PARTIAL_RUN).`)
      process.exitCode = exitCode
    }
    return payload
  }

  /**
   * --resume FILE: re-parse the flags from the file's recorded command (resumePlan) so the rest of run() is
   * the ordinary bench; returns what runBench copies into the new file.
   */
  private async resume(file: string): Promise<{file: string; levels: LevelRecord[]}> {
    const separator = this.argv.indexOf('--')
    const own = separator === -1 ? this.argv : this.argv.slice(0, separator)
    const others = own.filter((arg) => arg.startsWith('-') && !/^--(resume|json|profiles)(=|$)/.test(arg))
    if (others.length > 0 || separator !== -1) {
      throw invalidInput(
        `--resume repeats the recorded command, so it takes no other flags (got ${[...others, ...(separator === -1 ? [] : ['--'])].join(' ')}).`,
        'Drop them, or run capplan bench with the flags you want instead.',
      )
    }
    const filePath = path.resolve(file)
    if (!existsSync(filePath)) throw notFound(`--resume ${filePath} does not exist.`, 'Pass a result file written by capplan bench.')
    const plan = resumePlan(await readResultFile(filePath), filePath)
    let argv = plan.argv
    const profiles = own.find((arg) => arg.startsWith('--profiles'))
    if (profiles !== undefined) {
      argv = [...withoutFlag(argv, '--profiles', true), '--profiles', this.flags.profiles!]
    }
    if (this.jsonEnabled()) argv = ['--json', ...argv]
    const parsed = await this.parse({args: Bench.args, baseFlags: CapplanCommand.baseFlags, enableJsonFlag: true, flags: Bench.flags, strict: false}, argv)
    this.argv = argv
    this.flags = parsed.flags as typeof this.flags
    this.parsedArgv = parsed.argv.map(String)
    this.info(`Resuming ${filePath}: keeping ${plan.kept.length} complete level(s), measuring ${plan.rerun.join(', ')} again.`)
    return {file: filePath, levels: plan.kept}
  }

  /** Words after `--` go to the engine; anything else oclif could not place is a mistyped flag. */
  private engineExtraArgs(): string[] {
    const separator = this.argv.indexOf('--')
    const extra = separator === -1 ? [] : this.argv.slice(separator + 1)
    const unknown = this.parsedArgv.slice(0, Math.max(0, this.parsedArgv.length - extra.length))
    if (unknown.length > 0) {
      throw invalidInput(
        `Unexpected argument${unknown.length > 1 ? 's' : ''}: ${unknown.join(' ')}.`,
        'See capplan bench --help; extra engine flags go after --, e.g. capplan bench --engine llamacpp -- --mlock.',
      )
    }
    return extra
  }

  private makeEngine(kind: EngineKind, o: EngineSetup): Engine {
    const {flags} = this
    const timeout = o.requestTimeoutMs === undefined ? {} : {requestTimeoutMs: o.requestTimeoutMs}
    if (kind === 'embedded') {
      return new EmbeddedEngine({modelPath: o.modelPath, device: flags.device, threads: o.threads ?? 1, maxConcurrency: o.maxConcurrency, tokensPerSequence: o.tokensPerSequence})
    }
    if (kind === 'llamacpp') {
      return new LlamaCppEngine({
        modelPath: o.modelPath,
        ...(flags['server-bin'] === undefined ? {} : {serverBin: flags['server-bin']}),
        threads: o.threads,
        maxConcurrency: o.maxConcurrency,
        tokensPerSequence: o.tokensPerSequence,
        ...(flags.device === 'cpu' ? {gpuLayers: 0} : {}),
        extraArgs: o.extraArgs,
        ...(o.logFile === undefined ? {} : {logFile: o.logFile}),
        startupTimeoutMs: o.startupTimeoutMs,
        ...timeout,
        ...(o.host === undefined ? {} : {host: o.host}),
        api: o.api === 'v1-completions' ? 'v1-completions' : 'completion',
        onNote: (message) => this.warnLine(message),
      })
    }
    if (kind === 'vllm') {
      return new VllmEngine({
        profile: o.profile,
        quant: o.quant,
        gpus: flags.gpus ?? 1,
        maxConcurrency: o.maxConcurrency,
        inputTokens: o.inputTokens,
        outputTokens: o.outputTokens,
        synthetic: flags.synthetic,
        ...(flags['vllm-bin'] === undefined ? {} : {vllmBin: flags['vllm-bin']}),
        extraArgs: o.extraArgs,
        ...(o.logFile === undefined ? {} : {logFile: o.logFile}),
        startupTimeoutMs: o.startupTimeoutMs,
        ...timeout,
        ...(o.host === undefined ? {} : {host: o.host}),
      })
    }
    return new OpenAiEngine({
      endpoint: flags.endpoint!,
      ...(flags['model-id'] === undefined ? {} : {model: flags['model-id']}),
      ...(flags['api-key-env'] === undefined ? {} : {apiKeyEnv: flags['api-key-env']}),
      api: o.api === 'chat' ? 'chat' : 'completions',
      gpuCount: flags.gpus ?? 0,
      ...timeout,
      onNote: (message) => this.warnLine(message),
    })
  }

  private showProgress(status: ReturnType<typeof createStatusLine>, label: string, progress: BenchProgress): void {
    if (progress.phase === 'warmup') {
      status.update(`${label}: warmup (${progress.requests} request(s) at concurrency ${progress.concurrency})...`, true)
    } else if (progress.phase === 'level') {
      const {level} = progress
      const rate = level.elapsedMs > 0 ? (level.outputTokens / level.elapsedMs) * 1000 : 0
      const of = progress.levels === null ? '' : `/${progress.levels}`
      status.update(
        `${label}: level ${progress.levelIndex + 1}${of} · ${loadLabel(level.load)} · ` +
          `${level.done}${level.total === null ? '' : `/${level.total}`} requests${level.failed > 0 ? ` (${level.failed} failed)` : ''} · ${rate.toFixed(1)} output tok/s`,
      )
    } else {
      const {summary} = progress.record
      status.log(
        `${label}: ${loadLabel(progress.record.load)}: ${summary.throughput.outputTokensPerS.toFixed(1)} output tok/s, ` +
          `${summary.throughput.totalTokensPerS.toFixed(1)} total tok/s, ${summary.requests.completed} ok / ${summary.requests.failed} failed`,
      )
    }
  }

  private payload(runs: {result: ResultFile; path: string}[], store: ProfileStore, slo: SloSpec | undefined): BenchJson {
    const results: BenchJsonRun[] = runs.map(({result, path: file}) => ({
      file,
      model: result.model.profile,
      quant: result.model.quant,
      format: result.model.format,
      status: result.status,
      levels: result.levels.map((level) => ({load: level.load, concurrency: level.load.value, status: level.status, summary: level.summary})),
    }))
    const cost: BenchJsonCost[] = []
    for (const {result, path: file} of runs) {
      const gpuProfileId = this.flags.gpu ?? result.gpuProfile ?? 'cpu'
      if (this.flags.gpu === undefined && result.gpuProfile === null && result.engine.gpuCount > 0) {
        this.warnLine(
          `no GPU profile matches ${result.host.gpus[0]?.model ?? 'this GPU'}; the cost below uses the cpu profile's price. Pass --gpu ID to cost it on a GPU profile.`,
        )
      }
      // Capacity at the latency target, exactly as `capplan report` finds it.
      const report = buildResultReport(file, result, store, {
        ...(slo === undefined ? {} : {slo}),
        plan: {gpu: gpuProfileId},
      })
      const point = report.operatingPoint
      if (report.plan !== null && point.load !== null && point.totalTokensPerS !== null) {
        cost.push({
          model: result.model.profile,
          quant: result.model.quant,
          basis: 'slo-operating-point',
          slo: report.slo,
          note: point.explanation,
          load: point.load,
          concurrency: point.load.value,
          totalTokensPerSecond: point.totalTokensPerS,
          gpuProfile: report.gpuProfile ?? gpuProfileId,
          plan: report.plan,
        })
        continue
      }
      // No level met the SLO (a slow CPU): still show money, clearly labeled as the highest throughput.
      const best = bestLevel(result)
      if (best === null) continue
      const gpu = store.get('gpu', gpuProfileId)
      const price = gpuHourlyPrice(gpu, 'on-demand')
      const plan = planCost({
        totalTokensPerSecond: best.summary.throughput.totalTokensPerS,
        usdPerGpuHour: price.usdPerHour,
        gpuPriceSource: `${gpu.id} on-demand: ${price.source}, ${price.date}`,
        gpusPerReplica: Math.max(1, result.engine.gpuCount),
        priceUnit: gpu.vendor === 'cpu' ? 'machine' : 'GPU',
        ioRatio: {input: result.workload.inputTokens, output: result.workload.outputTokens},
        apis: store.list('api').map((api) => resolveApiPrice(store, api.id)),
      })
      cost.push({
        model: result.model.profile,
        quant: result.model.quant,
        basis: 'highest-throughput',
        slo: report.slo,
        note: `no level met the SLO (${formatSlo(report.slo)}); costed at the highest measured throughput instead`,
        load: best.load,
        concurrency: best.load.value,
        totalTokensPerSecond: best.summary.throughput.totalTokensPerS,
        gpuProfile: gpuProfileId,
        plan,
      })
    }
    return {results, cost}
  }

  private render(runs: {result: ResultFile; path: string}[], payload: BenchJson): void {
    if (runs.length === 0) return
    const summaryRuns: SummaryRun[] = runs.map(({result}) => ({
      label: `${result.model.profile} ${result.model.quant} (${result.model.format})`,
      levels: result.levels.map((level) => ({concurrency: level.load.value, status: level.status, summary: level.summary})),
    }))
    this.log(renderBenchSummary(summaryRuns))
    for (const cost of payload.cost) {
      const where = `${loadLabel(cost.load)}, ${cost.totalTokensPerSecond.toFixed(1)} total tok/s`
      if (cost.basis === 'slo-operating-point') {
        this.log(`\nCost of ${cost.model} ${cost.quant} at its operating point for the SLO ${formatSlo(cost.slo)} (${where}) on the ${cost.gpuProfile} profile:`)
        this.log(cost.note)
      } else {
        this.log(`\n${cost.model} ${cost.quant}: ${cost.note}.`)
        this.log(`Cost of ${cost.model} ${cost.quant} at its best level (${where}) on the ${cost.gpuProfile} profile:`)
      }
      this.log(renderPlanTable(cost.plan))
    }
    if (payload.cost.length > 0) {
      const files = runs.map((run) => path.relative(process.cwd(), run.path) || run.path).join(' ')
      this.log(`\nDetails (SLO checks per level, other prices): capplan report ${files}`)
    }
  }
}

/** The server log's name beside its result file: <result>.server.log. */
function keptServerLog(resultPath: string): string {
  return path.join(path.dirname(resultPath), `${path.basename(resultPath, '.json')}.server.log`)
}

function loadLabel(load: {kind: 'concurrency' | 'rate'; value: number}): string {
  // An interpolated operating point lies between two measured loads: two decimals say enough.
  const value = Number.isInteger(load.value) ? String(load.value) : load.value.toFixed(2)
  return load.kind === 'rate' ? `rate ${value} req/s` : `concurrency ${value}`
}

/** Memory the run may use: MemAvailable (free + reclaimable cache), not just "free". */
async function availableMemoryBytes(): Promise<number> {
  try {
    const memory = await si.mem()
    if (memory.available > 0) return memory.available
  } catch {
    // fall through
  }
  return os.freemem()
}

/** Free bytes on the disk that holds `dir` (or its nearest existing parent: the cache may not exist yet). */
async function freeDiskBytes(dir: string): Promise<number> {
  let probe = path.resolve(dir)
  while (!existsSync(probe) && path.dirname(probe) !== probe) probe = path.dirname(probe)
  const fs = await statfs(probe)
  return Number(fs.bavail) * Number(fs.bsize)
}

const API_PATHS: Record<EngineApi, string> = {
  completion: '/completion',
  'v1-completions': '/v1/completions',
  completions: '/v1/completions',
  chat: '/v1/chat/completions',
}

/** What a reader of the result file needs to judge the numbers. */
function runNotes(engine: EngineKind, synthetic: boolean, threads: number | null, loadBefore: number, api: EngineApi | null): string[] {
  const notes: string[] = []
  if (api !== null) notes.push(`requests sent to POST ${API_PATHS[api]} (--api ${api})`)
  if (synthetic) notes.push('synthetic weights with the real architecture: throughput is faithful, the generated text is not')
  if (threads !== null) notes.push(`llama.cpp threads: ${threads}`)
  notes.push(`1-minute load average before the run: ${loadBefore.toFixed(2)} on ${os.availableParallelism()} CPU(s)`)
  const pool = process.env.UV_THREADPOOL_SIZE
  if (engine === 'embedded' && pool !== '1') {
    notes.push(`UV_THREADPOOL_SIZE=${pool ?? 'unset (libuv default 4)'}: above 1 it cost ~15% decode speed on a 2-core machine; run through bin/run.js, which sets 1`)
  }
  return notes
}
