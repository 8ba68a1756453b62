import type {Engine} from '../engines/types.js'
import type {EngineInfo, LevelTelemetry, ServerMetrics} from '../results/schema.js'
import {levelTelemetry} from './energy.js'
import {type GpuSamplerOptions, NvidiaSmiSampler} from './gpu-sampler.js'
import {scrapeMetrics, serverMetricsFrom} from './prometheus.js'

/**
 * Telemetry around ONE level, for bench (src/load/bench-run.ts), per measured level:
 *
 *   const {result: run, telemetry, serverMetrics} = await withLevelTelemetry(
 *     engine,
 *     {
 *       t0Ms: t0,                                    // the run's t0 (performance.now())
 *       outputTokens: (run) => sum of outputTokens of run.requests without error,
 *       windowOf: (run) => run.window,               // energy over exactly the throughput window
 *     },
 *     () => runLevel(engine, level, {t0, signal}),   // the level only: warmup stays outside
 *   )
 *   record.telemetry = telemetry; record.serverMetrics = serverMetrics
 *
 * Order: scrape /metrics, start nvidia-smi (energy counter read), run fn, stop nvidia-smi (counter read),
 * scrape /metrics. The driver's energy counter is read just outside fn (one nvidia-smi call each side, ~0.1-0.5 s),
 * so counter energy spans slightly more than the window: under 1% of a level of a minute; integrated
 * energy uses the window exactly. Nothing here fails the level: missing tools or a dead /metrics become notes
 * (telemetry.notes); if fn throws, the sampler is stopped and the error rethrown.
 */

export interface LevelTelemetryOptions<T> {
  /** The run's t0 on performance.now(): sample times are relative to it, like request startMs. */
  t0Ms: number
  /**
   * Sample GPUs with nvidia-smi: true/false, or sampler options (devices, interval). Default:
   * shouldSampleLocalGpus(engine.info()) — a local engine using GPUs.
   */
  gpu?: boolean | GpuSamplerOptions
  /** GET /metrics of the engine's endpoint (llamacpp, vllm; openai endpoints may have one). Default true. */
  scrape?: boolean
  /** Output tokens of the level's successful requests, from fn's result: the J/token denominator. */
  outputTokens: (result: T) => number
  /**
   * The level's measured window (ms relative to t0) from fn's result, e.g. (run) => run.window: energy is
   * integrated over exactly the window throughput is divided by. Default: fn's own start and end.
   */
  windowOf?: (result: T) => {startMs: number; endMs: number}
  /** Clock (tests). */
  now?: () => number
}

export interface LevelTelemetryResult<T> {
  result: T
  telemetry: LevelTelemetry
  serverMetrics: ServerMetrics | null
}

/**
 * Whether this machine's GPUs are the engine's: yes for embedded / llamacpp / vllm using GPUs, and for an
 * openai endpoint on loopback that says it has GPUs; never for a remote endpoint (its GPUs are elsewhere,
 * sampling ours would attribute the wrong energy) nor for a CPU-only run (no "nvidia-smi missing" noise).
 */
export function shouldSampleLocalGpus(info: EngineInfo): boolean {
  if (info.gpuCount === 0) return false
  if (info.kind !== 'openai') return true
  try {
    const host = new URL(info.endpoint ?? '').hostname
    return host === '127.0.0.1' || host === 'localhost' || host === '[::1]'
  } catch {
    return false
  }
}

/** <endpoint>/metrics for a server engine, null for the embedded engine (no endpoint). */
export function metricsUrlOf(engine: Engine): string | null {
  const endpoint = engine.info().endpoint
  return endpoint === null ? null : `${endpoint.replace(/\/+$/, '')}/metrics`
}

export async function withLevelTelemetry<T>(engine: Engine, options: LevelTelemetryOptions<T>, fn: () => Promise<T>): Promise<LevelTelemetryResult<T>> {
  const now = options.now ?? (() => performance.now())
  const notes: string[] = []
  const metricsUrl = options.scrape === false ? null : metricsUrlOf(engine)
  // A server that requires an API key requires it on /metrics too.
  const scrapeHeaders = engine.requestHeaders?.() ?? {}
  const before = metricsUrl === null ? null : await scrapeMetrics(metricsUrl, undefined, scrapeHeaders)
  if (before !== null && !before.ok) notes.push(before.note)

  const gpuOptions = options.gpu ?? shouldSampleLocalGpus(engine.info())
  const sampler = gpuOptions === false ? null : new NvidiaSmiSampler({...(gpuOptions === true ? {} : gpuOptions), t0Ms: options.t0Ms, now})
  await sampler?.start()

  const startMs = now() - options.t0Ms
  let result: T
  try {
    result = await fn()
  } catch (error) {
    // An interrupted or failed level: no nvidia-smi may outlive it.
    await sampler?.stop()
    throw error
  }
  const endMs = now() - options.t0Ms
  const gpu = sampler === null ? null : await sampler.stop()

  let serverMetrics: ServerMetrics | null = null
  if (metricsUrl !== null && before?.ok === true) {
    const after = await scrapeMetrics(metricsUrl, undefined, scrapeHeaders)
    if (after.ok) serverMetrics = serverMetricsFrom(before.text, after.text)
    else notes.push(after.note)
  }

  const telemetry = levelTelemetry({
    samples: gpu?.samples ?? [],
    counterBeforeMJ: gpu?.counterBeforeMJ ?? new Map(),
    counterAfterMJ: gpu?.counterAfterMJ ?? new Map(),
    window: options.windowOf?.(result) ?? {startMs, endMs},
    outputTokens: options.outputTokens(result),
    notes: [...(gpu?.notes ?? []), ...notes],
  })
  return {result, telemetry, serverMetrics}
}
