import {existsSync} from 'node:fs'
import {statfs} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {Flags} from '@oclif/core'
import si from 'systeminformation'

import {planCost, type PlanResult} from '../cost/plan.js'
import {contextSizeFor, EmbeddedEngine} from '../engines/embedded.js'
import {cachedModelPath, DEFAULT_SEED, ensureSyntheticModel, estimateSyntheticFileBytes} from '../gguf/synth.js'
import {capplanCacheDir} from '../lib/cache.js'
import {CapplanCommand} from '../lib/base-command.js'
import {CapplanError, invalidInput} from '../lib/errors.js'
import {createStatusLine} from '../lib/progress.js'
import {type BenchProgress, runBench} from '../load/bench-run.js'
import {assertFitsInMemory, assertFitsOnDisk, busyMachineWarning, estimateRunMemory} from '../load/resources.js'
import {gpuHourlyPrice, loadProfiles, resolveApiPrice, type ProfileStore} from '../profiles/load.js'
import {type QuantLevel, quantLevels, type WorkloadProfile} from '../profiles/schema.js'
import {renderPlanTable} from '../report/plan-table.js'
import {renderBenchSummary, type SummaryRun} from '../report/summary-table.js'
import type {LevelSummary, ResultFile, SloSpec} from '../results/schema.js'
import {redactCommand} from '../results/write.js'
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
export function bestLevel(result: ResultFile): {concurrency: number; summary: LevelSummary} | null {
  let best: {concurrency: number; summary: LevelSummary} | null = null
  for (const level of result.levels) {
    if (level.summary.requests.completed === 0) continue
    if (best === null || level.summary.throughput.totalTokensPerS > best.summary.throughput.totalTokensPerS) {
      best = {concurrency: level.load.value, summary: level.summary}
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
  levels: {concurrency: number; status: string; summary: LevelSummary}[]
}

export interface BenchJsonCost {
  model: string
  quant: QuantLevel
  /** The level whose throughput was costed (highest total tok/s). */
  concurrency: number
  totalTokensPerSecond: number
  gpuProfile: string
  plan: PlanResult
}

export interface BenchJson {
  results: BenchJsonRun[]
  cost: BenchJsonCost[]
}

export default class Bench extends CapplanCommand<typeof Bench> {
  static override summary = 'Measure throughput and latency on this machine (embedded llama.cpp), then cost it against API prices.'

  static override description = [
    'With no flags: synthesizes (once, cached) a random-weight GGUF with Qwen2.5-0.5B\'s exact architecture at int4 (Q4_0), loads it in-process with node-llama-cpp\'s prebuilt llama.cpp (CPU here; a GPU where its binaries find one), runs a warmup and then closed-loop levels at concurrency 1, 2 and 4 with the `chat` workload\'s shape (512 prompt tokens, 256 output tokens, EOS ignored, a unique prompt per request), writes a result file into results/ (saved after every level) and prints the per-level summary and the monthly cost of the best level\'s throughput on the `cpu` profile (or the detected GPU) against every API profile.',
    'Throughput of a dense model does not depend on weight values, so the synthetic copy measures what the real model would on the same hardware; the generated text is meaningless.',
    'Ctrl-C stops the run, keeps the levels measured so far (status "interrupted") and exits 130.',
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
  ]

  static override flags = {
    model: Flags.string({summary: 'Model profile id (see `capplan profiles list --kind model`).', default: BENCH_DEFAULTS.model, helpValue: 'ID'}),
    quant: Flags.string({
      summary: `Quantization(s), comma-separated: ${quantLevels.join(', ')} (int4 = Q4_0, int8 = Q8_0, fp16 = F16).`,
      default: BENCH_DEFAULTS.quant,
      helpValue: 'LIST',
    }),
    concurrency: Flags.string({summary: 'Concurrency levels (requests in flight), comma-separated.', default: BENCH_DEFAULTS.concurrency, helpValue: 'LIST'}),
    requests: Flags.integer({summary: 'Measured requests per level (default: 2 x concurrency, at least 4).', min: 1, max: 100_000}),
    workload: Flags.string({summary: 'Workload profile: prompt/output lengths and the SLO for goodput.', default: BENCH_DEFAULTS.workload, helpValue: 'ID'}),
    'input-tokens': Flags.integer({summary: 'Prompt tokens per request (overrides the workload).', min: 1, max: 131_072}),
    'output-tokens': Flags.integer({summary: 'Output tokens per request (overrides the workload).', min: 1, max: 131_072}),
    threads: Flags.integer({summary: 'CPU threads for llama.cpp (default: physical cores).', min: 1, max: 1024}),
    device: Flags.option({options: ['auto', 'cpu'] as const, default: 'auto' as const, summary: 'auto: a GPU when the prebuilt binaries find one; cpu: CPU only.'})(),
    'results-dir': Flags.string({summary: 'Where result files are written.', default: BENCH_DEFAULTS.resultsDir, helpValue: 'DIR'}),
    seed: Flags.integer({summary: 'Seed of the synthetic prompts.', default: BENCH_DEFAULTS.seed}),
    gpu: Flags.string({
      summary: 'GPU profile whose on-demand price costs the result (default: the detected GPU, or `cpu` on a CPU run).',
      helpValue: 'ID',
    }),
  }

  public async run(): Promise<BenchJson> {
    const {flags} = this
    const quants = parseQuantList(flags.quant)
    const concurrencies = parseConcurrencyList(flags.concurrency)
    const store = await loadProfiles({userDir: flags.profiles})
    const profile = store.get('model', flags.model)
    const workload = store.get('workload', flags.workload)
    if (flags.gpu !== undefined) store.get('gpu', flags.gpu) // an unknown id fails now, naming the closest ones
    const inputTokens = flags['input-tokens'] ?? workload.inputTokens
    const outputTokens = flags['output-tokens'] ?? workload.outputTokens
    const maxConcurrency = Math.max(...concurrencies)
    const {tokensPerSequence, contextSize} = contextSizeFor(maxConcurrency, inputTokens, outputTokens)
    if (tokensPerSequence > profile.contextLength) {
      throw invalidInput(
        `--input-tokens ${inputTokens} + --output-tokens ${outputTokens} exceed ${profile.id}'s context of ${profile.contextLength} tokens.`,
        'Use shorter prompts or outputs.',
      )
    }

    // Refuse a model this machine cannot hold before synthesizing anything (all quants first).
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

    const threads = flags.threads ?? (await physicalCoreCount())
    const loadBefore = os.loadavg()[0]!
    const busy = busyMachineWarning(loadBefore, os.availableParallelism(), threads)
    if (busy !== null) this.info(`Warning: ${busy}`)
    const host = await snapshotHost()
    const status = createStatusLine({enabled: !this.jsonEnabled()})
    const controller = new AbortController()
    const onSigint = () => {
      // A second Ctrl-C means "now": the file on disk already holds every finished level.
      if (controller.signal.aborted) process.exit(130)
      status.clear()
      this.warnLine('Interrupted: saving what was measured so far (Ctrl-C again to quit at once)...')
      controller.abort()
    }
    process.on('SIGINT', onSigint)

    const runs: {result: ResultFile; path: string}[] = []
    try {
      for (const quant of quants) {
        if (controller.signal.aborted) break
        status.update(`${profile.id} ${quant}: preparing the synthetic model...`, true)
        const model = await ensureSyntheticModel({
          profile,
          quant,
          onProgress: (done, total) => status.update(`${profile.id} ${quant}: writing the synthetic model ${Math.floor((100 * done) / total)}%`),
        })
        status.log(`${profile.id} ${quant}: ${model.reused ? 'reusing' : 'wrote'} ${model.path} (${model.format}, ${(model.bytes / 2 ** 20).toFixed(0)} MiB)`)
        if (controller.signal.aborted) break
        const engine = new EmbeddedEngine({modelPath: model.path, device: flags.device, threads, maxConcurrency, tokensPerSequence})
        status.update(`${profile.id} ${quant}: loading into llama.cpp (${threads} thread(s))...`, true)
        try {
          await engine.start()
          const info = engine.info()
          const gpuProfile = info.gpuCount > 0 ? detectHostGpuProfileId(store, host) : null
          const outcome = await runBench(
            {
              concurrencies,
              requestsFor: (concurrency) => flags.requests ?? defaultRequestsFor(concurrency),
              inputTokens,
              outputTokens,
              seed: flags.seed,
              warmupOutputTokens: Math.min(outputTokens, 8),
              slo: workloadSlo(workload),
            },
            {
              engine,
              profile,
              quant,
              model: {format: model.format, file: model.path, sha256: model.sha256, bytes: model.bytes, synthetic: true},
              workloadProfile: flags['input-tokens'] === undefined && flags['output-tokens'] === undefined ? workload.id : null,
              host,
              gpuProfile,
              resultsDir: path.resolve(flags['results-dir']),
              capplan: {version: this.config.version, command: redactCommand(['capplan', 'bench', ...this.argv])},
              notes: runNotes(threads, loadBefore),
              signal: controller.signal,
              onProgress: (progress) => this.showProgress(status, `${profile.id} ${quant}`, progress),
            },
          )
          runs.push(outcome)
          status.log(`${profile.id} ${quant}: result file ${path.relative(process.cwd(), outcome.path) || outcome.path} (${outcome.result.status})`)
        } finally {
          await engine.stop()
        }
      }
    } finally {
      process.off('SIGINT', onSigint)
      status.clear()
    }

    const payload = this.payload(runs, store)
    if (!this.jsonEnabled()) this.render(runs, payload)
    if (controller.signal.aborted) {
      const saved = runs.map((run) => run.path).join(', ')
      throw new CapplanError(
        'INTERRUPTED',
        `Interrupted. ${saved === '' ? 'Nothing was measured yet.' : `Saved what was measured in ${saved}.`}`,
        'Run capplan bench again to measure the remaining levels.',
      )
    }
    return payload
  }

  private showProgress(status: ReturnType<typeof createStatusLine>, label: string, progress: BenchProgress): void {
    if (progress.phase === 'warmup') {
      status.update(`${label}: warmup (${progress.requests} request(s) at concurrency ${progress.concurrency})...`, true)
    } else if (progress.phase === 'level') {
      const {level} = progress
      const rate = level.elapsedMs > 0 ? (level.outputTokens / level.elapsedMs) * 1000 : 0
      status.update(
        `${label}: level ${progress.levelIndex + 1}/${progress.levels} · concurrency ${level.concurrency} · ` +
          `${level.done}/${level.total} requests${level.failed > 0 ? ` (${level.failed} failed)` : ''} · ${rate.toFixed(1)} output tok/s`,
      )
    } else {
      const {summary} = progress.record
      status.log(
        `${label}: concurrency ${progress.record.load.value}: ${summary.throughput.outputTokensPerS.toFixed(1)} output tok/s, ` +
          `${summary.throughput.totalTokensPerS.toFixed(1)} total tok/s, ${summary.requests.completed} ok / ${summary.requests.failed} failed`,
      )
    }
  }

  private payload(runs: {result: ResultFile; path: string}[], store: ProfileStore): BenchJson {
    const results: BenchJsonRun[] = runs.map(({result, path: file}) => ({
      file,
      model: result.model.profile,
      quant: result.model.quant,
      format: result.model.format,
      status: result.status,
      levels: result.levels.map((level) => ({concurrency: level.load.value, status: level.status, summary: level.summary})),
    }))
    const cost: BenchJsonCost[] = []
    for (const {result} of runs) {
      const best = bestLevel(result)
      if (best === null) continue
      const gpuProfileId = this.flags.gpu ?? result.gpuProfile ?? 'cpu'
      if (this.flags.gpu === undefined && result.gpuProfile === null && result.engine.gpuCount > 0) {
        this.warnLine(
          `no GPU profile matches ${result.host.gpus[0]?.model ?? 'this GPU'}; the cost below uses the cpu profile's price. Pass --gpu ID to cost it on a GPU profile.`,
        )
      }
      const gpu = store.get('gpu', gpuProfileId)
      const price = gpuHourlyPrice(gpu, 'on-demand')
      const plan = planCost({
        totalTokensPerSecond: best.summary.throughput.totalTokensPerS,
        usdPerGpuHour: price.usdPerHour,
        gpuPriceSource: `${gpu.id} on-demand: ${price.source}, ${price.date}`,
        gpusPerReplica: Math.max(1, result.engine.gpuCount),
        ioRatio: {input: result.workload.inputTokens, output: result.workload.outputTokens},
        apis: store.list('api').map((api) => resolveApiPrice(store, api.id)),
      })
      cost.push({
        model: result.model.profile,
        quant: result.model.quant,
        concurrency: best.concurrency,
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
      this.log(
        `\nCost of ${cost.model} ${cost.quant} at its best level (concurrency ${cost.concurrency}, ${cost.totalTokensPerSecond.toFixed(1)} total tok/s) on the ${cost.gpuProfile} profile:`,
      )
      this.log(renderPlanTable(cost.plan))
    }
    if (payload.cost.length > 0) {
      const files = runs.map((run) => path.relative(process.cwd(), run.path) || run.path).join(' ')
      this.log(`\nThis costs the highest throughput measured, whatever its latency. To cost the operating point that meets the workload's SLO: capplan report ${files}`)
    }
  }
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

/** What a reader of the result file needs to judge the numbers. */
function runNotes(threads: number, loadBefore: number): string[] {
  const notes = [
    'synthetic weights with the real architecture: throughput is faithful, the generated text is not',
    `llama.cpp threads: ${threads}`,
    `1-minute load average before the run: ${loadBefore.toFixed(2)} on ${os.availableParallelism()} CPU(s)`,
  ]
  const pool = process.env.UV_THREADPOOL_SIZE
  if (pool !== '1') {
    notes.push(`UV_THREADPOOL_SIZE=${pool ?? 'unset (libuv default 4)'}: above 1 it cost ~15% decode speed on a 2-core machine; run through bin/run.js, which sets 1`)
  }
  return notes
}


