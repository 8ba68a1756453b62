import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import type {Llama, LlamaContext, LlamaContextSequence, LlamaModel} from 'node-llama-cpp'

import {CapplanError, EngineError, invalidInput, notFound} from '../lib/errors.js'
import type {EngineInfo, GenRequest, Engine, StreamEvent} from './types.js'

/**
 * The embedded engine: llama.cpp in this process through node-llama-cpp's PREBUILT binaries (CPU here;
 * CUDA / Vulkan / Metal where they find a device). It never downloads or compiles anything at run time.
 *
 * Concurrency N = N sequences of ONE context whose next tokens are decoded in the same llama_decode batch
 * (continuous batching, as llama-server does with -np N). See BatchGate for why that needs help.
 */

export interface EmbeddedEngineOptions {
  modelPath: string
  /** 'cpu' forces CPU even where a GPU backend exists; 'auto' lets node-llama-cpp pick. */
  device: 'auto' | 'cpu'
  /**
   * CPU threads. Callers pass the PHYSICAL core count unless the user said otherwise: node-llama-cpp's
   * default on a 2-core VM was 4 threads and decode fell from ~63 to 0.3 tok/s.
   */
  threads: number
  /** Sequences in the context = the highest concurrency the run will use. */
  maxConcurrency: number
  /** Tokens one request occupies (prompt + output + a small margin); the context holds N of them. */
  tokensPerSequence: number
  /** Flash attention: node-llama-cpp's default 'auto' unless a comparison needs it fixed (llama-bench -fa). */
  flashAttention?: 'auto' | boolean
}

/** Extra KV cells per sequence beyond prompt + output (the last token's logits, alignment). */
export const SEQUENCE_MARGIN_TOKENS = 16

/** Context size for N sequences of (input + output) tokens: N x (input + output + margin), not "auto". */
export function contextSizeFor(
  maxConcurrency: number,
  inputTokens: number,
  outputTokens: number,
): {
  tokensPerSequence: number
  contextSize: number
} {
  const tokensPerSequence = inputTokens + outputTokens + SEQUENCE_MARGIN_TOKENS
  return {tokensPerSequence, contextSize: maxConcurrency * tokensPerSequence}
}

/**
 * Batch size: a whole prompt plus one decode token per other sequence fits in one batch, so a new request's
 * prefill joins the running decodes instead of being split; at least 512 (llama.cpp's default), and never
 * above the context.
 */
export function batchSizeFor(contextSize: number, tokensPerSequence: number, maxConcurrency: number): number {
  return Math.min(contextSize, Math.max(512, tokensPerSequence + maxConcurrency))
}

/**
 * Makes concurrent sequences share decode batches.
 *
 * node-llama-cpp batches whatever sequences are queued when a batch is dispatched, and keeps decoding while
 * its queue is non-empty. After a batch, each sequence's consumer needs several promise hops to queue its
 * next token; the first one back started the next batch alone, so with 2 sequences every batch held ONE
 * token and they alternated (measured: interleaved timestamps, no throughput gain). The gate holds every
 * stream's next step until no step is in flight, then releases them all in one macrotask (setImmediate), so
 * they all queue before node-llama-cpp's own next-cycle dispatch — one batch per step, as llama-server does.
 */
export class BatchGate {
  private inFlight = 0
  private waiters: Array<() => void> = []
  private releaseScheduled = false
  /** Releases (each is one decode batch) and the steps they released, for batchStats(). */
  releases = 0
  releasedSteps = 0

  /** Run one decode step (`step`) together with every other stream waiting at the gate. */
  async step<T>(step: () => Promise<T>): Promise<T> {
    await new Promise<void>((resolve) => {
      this.waiters.push(resolve)
      this.scheduleRelease()
    })
    this.inFlight++
    try {
      return await step()
    } finally {
      this.inFlight--
      this.scheduleRelease()
    }
  }

  private scheduleRelease(): void {
    if (this.releaseScheduled || this.inFlight > 0 || this.waiters.length === 0) return
    this.releaseScheduled = true
    setImmediate(() => {
      this.releaseScheduled = false
      if (this.inFlight > 0) return // a step started meanwhile; its end schedules the next release
      const released = this.waiters
      this.waiters = []
      this.releases++
      this.releasedSteps += released.length
      for (const resolve of released) resolve()
    })
  }
}

/**
 * node-llama-cpp on first use, never at import: it is a native module, so the single-file capplan of an offline
 * kit (`capplan pack`) leaves it out, and every command but an embedded bench must start without it.
 */
export async function loadNodeLlamaCpp(): Promise<typeof import('node-llama-cpp')> {
  try {
    return await import('node-llama-cpp')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error
    throw notFound(
      'The embedded engine needs node-llama-cpp, a native module that this capplan does not carry (an offline kit from `capplan pack` is one JS file, no node_modules).',
      "Use --engine llamacpp (the kit's llama-server; run.sh does), or install capplan with npm to use the embedded engine.",
    )
  }
}

/** node-llama-cpp's own version (its package.json), or null when it cannot be found. */
export function nodeLlamaCppVersion(): string | null {
  try {
    const entry = fileURLToPath(import.meta.resolve('node-llama-cpp'))
    // entry is <pkg>/dist/index.js
    const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as {version?: string}
    return pkg.version ?? null
  } catch {
    return null
  }
}

const LOG_TAIL_LINES = 20

export class EmbeddedEngine implements Engine {
  private llama: Llama | undefined
  private model: LlamaModel | undefined
  private context: LlamaContext | undefined
  private freeSequences: LlamaContextSequence[] = []
  private readonly gate = new BatchGate()
  private readonly logTail: string[] = []
  private tokenPool: number[] | undefined

  constructor(readonly options: EmbeddedEngineOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) {
      throw invalidInput(`--threads must be a whole number >= 1, got ${options.threads}.`, 'Pass e.g. --threads 2.')
    }
  }

  private remember(line: string): void {
    this.logTail.push(line.trimEnd())
    if (this.logTail.length > LOG_TAIL_LINES) this.logTail.shift()
  }

  private failure(what: string, error: unknown, suggestion: string): EngineError {
    const message = error instanceof Error ? error.message : String(error)
    return new EngineError(`${what}: ${message}`, suggestion, 'node-llama-cpp (embedded llama.cpp)', [...this.logTail])
  }

  async start(): Promise<void> {
    const {modelPath, device, threads, maxConcurrency, tokensPerSequence} = this.options
    const {getLlama, LlamaLogLevel} = await loadNodeLlamaCpp()
    try {
      this.llama = await getLlama({
        gpu: device === 'cpu' ? false : 'auto',
        // Never download or compile at run time: a missing prebuilt binary is an error the user sees.
        build: 'never',
        skipDownload: true,
        progressLogs: false,
        maxThreads: threads,
        logLevel: LlamaLogLevel.warn,
        logger: (_level, message) => this.remember(message),
      })
    } catch (error) {
      throw this.failure(
        'node-llama-cpp has no usable prebuilt llama.cpp binary for this machine',
        error,
        'capplan does not build llama.cpp at run time; reinstall node-llama-cpp (npm ci) on a supported platform.',
      )
    }
    try {
      this.model = await this.llama.loadModel({modelPath, gpuLayers: device === 'cpu' ? 0 : 'auto'})
    } catch (error) {
      throw this.failure(`Could not load the model ${modelPath}`, error, 'Check the file is a complete GGUF (capplan model synth rewrites it).')
    }
    const contextSize = maxConcurrency * tokensPerSequence
    try {
      this.context = await this.model.createContext({
        sequences: maxConcurrency,
        contextSize,
        batchSize: batchSizeFor(contextSize, tokensPerSequence, maxConcurrency),
        // min = ideal: never silently fewer threads than asked.
        threads: {ideal: threads, min: threads},
        ...(this.options.flashAttention === undefined ? {} : {flashAttention: this.options.flashAttention}),
        // Fail instead of shrinking: a smaller context than asked would change what is measured.
        failedCreationRemedy: false,
      })
    } catch (error) {
      throw this.failure(
        `Could not create a context of ${contextSize} tokens for ${maxConcurrency} sequence(s)`,
        error,
        'Lower --concurrency, --input-tokens or --output-tokens.',
      )
    }
    for (let i = 0; i < maxConcurrency; i++) this.freeSequences.push(this.context.getSequence())
  }

  private get started(): {llama: Llama; model: LlamaModel; context: LlamaContext} {
    if (this.llama === undefined || this.model === undefined || this.context === undefined) {
      throw new CapplanError('ENGINE_FAILURE', 'The embedded engine was used before start().', 'This is a bug in capplan.')
    }
    return {llama: this.llama, model: this.model, context: this.context}
  }

  info(): EngineInfo {
    const {llama, model, context} = this.started
    const backend = llama.gpu === false ? 'cpu' : llama.gpu
    const offloaded = llama.gpu !== false && model.gpuLayers > 0
    return {
      kind: 'embedded',
      version: nodeLlamaCppVersion(),
      build: `${llama.llamaCppRelease.repo}@${llama.llamaCppRelease.release}`,
      backend,
      threads: this.options.threads,
      gpuCount: offloaded ? 1 : 0,
      args: [
        `threads=${this.options.threads}`,
        `sequences=${this.options.maxConcurrency}`,
        `contextSize=${context.contextSize}`,
        `batchSize=${context.batchSize}`,
        `gpuLayers=${model.gpuLayers}`,
        `flashAttention=${String(context.flashAttention)}`,
        `binary=${llama.buildType}`,
        // libuv's pool size is fixed when the pool starts (bin/run.js sets 1 before importing anything).
        `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 'unset'}`,
      ],
      endpoint: null,
    }
  }

  /**
   * How many sequences each decode step carried on average since start: about N at concurrency N when
   * batching works, 1 when sequences take turns.
   */
  batchStats(): {steps: number; tokens: number; meanTokensPerStep: number} {
    const {releases, releasedSteps} = this.gate
    return {steps: releases, tokens: releasedSteps, meanTokensPerStep: releases === 0 ? 0 : releasedSteps / releases}
  }

  async tokenize(text: string): Promise<number[]> {
    return this.started.model.tokenize(text).map(Number)
  }

  /** Ordinary vocabulary entries only: no BOS/EOS/EOG, control, byte, unused or unknown tokens. */
  async promptTokenPool(): Promise<number[]> {
    if (this.tokenPool !== undefined) return this.tokenPool
    const {model} = this.started
    const pool: number[] = []
    const size = countVocabulary(model)
    for (let id = 0; id < size; id++) {
      const token = id as Parameters<LlamaModel['getTokenAttributes']>[0]
      const attributes = model.getTokenAttributes(token)
      if (attributes.normal && !model.isSpecialToken(token) && !model.isEogToken(token)) pool.push(id)
    }
    this.tokenPool = pool
    return pool
  }

  async *stream(request: GenRequest, signal: AbortSignal): AsyncGenerator<StreamEvent> {
    const {model} = this.started
    const sequence = this.freeSequences.pop()
    if (sequence === undefined) {
      yield {
        kind: 'error',
        errorKind: 'engine',
        message: `All ${this.options.maxConcurrency} sequences are busy; the engine was started for that concurrency.`,
      }
      return
    }
    try {
      const prompt = request.promptTokens ?? (request.promptText === null ? [] : model.tokenize(request.promptText).map(Number))
      if (prompt.length === 0) {
        yield {kind: 'error', errorKind: 'engine', message: 'The request has an empty prompt.'}
        return
      }
      // The control: no prefix reuse, every request starts from an empty KV for its sequence. A caching
      // workload (request.cachePrompt) keeps the sequence's tokens that match the prompt's start (at least
      // one prompt token is evaluated, for its logits) and erases the rest.
      let cachedTokens: number | null = null
      if (request.cachePrompt === true) {
        const held = sequence.contextTokens
        let common = 0
        while (common < held.length && common < prompt.length - 1 && Number(held[common]) === prompt[common]) common++
        if (common < sequence.nextTokenIndex) await sequence.eraseContextTokenRanges([{start: common, end: sequence.nextTokenIndex}])
        cachedTokens = common
      } else {
        await sequence.clearHistory()
      }
      const tokens = sequence.evaluate(prompt.slice(cachedTokens ?? 0) as Parameters<LlamaContextSequence['evaluate']>[0], {
        // Fixed output length: an EOS/EOT token is yielded and generation goes on (ignoreEos).
        yieldEogToken: true,
      })
      let produced = 0
      try {
        while (produced < request.maxTokens && !signal.aborted) {
          const next = await this.gate.step(() => tokens.next())
          if (next.done) break
          const atMs = performance.now()
          produced++
          yield {kind: 'content', atMs, tokens: 1}
        }
      } finally {
        await tokens.return()
      }
      if (signal.aborted) {
        yield {kind: 'error', errorKind: 'dropped', message: 'Stopped before the end (interrupted).'}
        return
      }
      yield {kind: 'usage', promptTokens: prompt.length, completionTokens: produced, ...(cachedTokens === null ? {} : {cachedTokens})}
    } catch (error) {
      yield {kind: 'error', errorKind: 'engine', message: error instanceof Error ? error.message : String(error)}
    } finally {
      this.freeSequences.push(sequence)
    }
  }

  async stop(): Promise<void> {
    const context = this.context
    const model = this.model
    const llama = this.llama
    this.context = undefined
    this.model = undefined
    this.llama = undefined
    this.freeSequences = []
    await context?.dispose().catch(() => {})
    await model?.dispose().catch(() => {})
    await llama?.dispose().catch(() => {})
  }
}

/** The vocabulary size node-llama-cpp loaded (tokenizer.ggml.tokens), read from the GGUF metadata. */
function countVocabulary(model: LlamaModel): number {
  const metadata = model.fileInfo.metadata as {tokenizer?: {ggml?: {tokens?: readonly unknown[]}}}
  return metadata.tokenizer?.ggml?.tokens?.length ?? 0
}

export interface DecodeMeasurement {
  /** Mean of the repetitions' tok/s (llama-bench's avg_ts is the same: the mean of per-run rates). */
  tokensPerSecond: number
  samples: number[]
  tokens: number
  threads: number
}

/**
 * Single-stream decode speed, mirroring llama-bench's tg test: an empty context, N tokens generated one by
 * one (one llama_decode each), tok/s = N / time, after one untimed warmup run, `repetitions` timed runs.
 * Difference, kept on purpose: llama-bench feeds random tokens without sampling; this samples greedily, as
 * the embedded engine does when it serves — the ratio shows what capplan's own path costs.
 */
export async function measureDecodeTokensPerSecond(
  modelPath: string,
  options: {threads: number; tokens: number; repetitions?: number; device?: 'auto' | 'cpu'; flashAttention?: 'auto' | boolean},
): Promise<DecodeMeasurement> {
  const repetitions = options.repetitions ?? 3
  const engine = new EmbeddedEngine({
    modelPath,
    device: options.device ?? 'cpu',
    threads: options.threads,
    maxConcurrency: 1,
    tokensPerSequence: options.tokens + SEQUENCE_MARGIN_TOKENS,
    ...(options.flashAttention === undefined ? {} : {flashAttention: options.flashAttention}),
  })
  await engine.start()
  try {
    const pool = await engine.promptTokenPool()
    const first = pool[0] ?? 1
    const run = async () => {
      const started = performance.now()
      let generated = 0
      for await (const event of engine.stream({promptTokens: [first], promptText: null, maxTokens: options.tokens, ignoreEos: true}, new AbortController().signal)) {
        if (event.kind === 'content') generated += event.tokens
        if (event.kind === 'error') throw new EngineError(event.message, 'Check the model file.', 'node-llama-cpp')
      }
      // The first token comes from the 1-token prompt's decode: N tokens = N decodes, as in llama-bench.
      return generated / ((performance.now() - started) / 1000)
    }
    await run()
    const samples: number[] = []
    for (let i = 0; i < repetitions; i++) samples.push(await run())
    return {
      tokensPerSecond: samples.reduce((a, b) => a + b, 0) / samples.length,
      samples,
      tokens: options.tokens,
      threads: options.threads,
    }
  } finally {
    await engine.stop()
  }
}
