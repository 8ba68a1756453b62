// Minimal single-stream decode measurement with node-llama-cpp, used by perf/run.ts (--engine fallback)
// and perf/investigate.ts. It mirrors llama-bench's tg test: one sequence, one token per decode, logits
// for that token; plus greedy sampling, which a real generation needs and llama-bench skips.
import {performance} from 'node:perf_hooks'

import {getLlama, type Llama, LlamaLogLevel, type Token} from 'node-llama-cpp'

let llamaPromise: Promise<Llama> | undefined
/** Lines llama.cpp logged since the last take (only timings are logged: level info is filtered below). */
let captured: string[] = []

/**
 * The CPU llama.cpp binding, never downloading or compiling (the prebuilt binary or nothing). maxThreads as
 * the project's embedded engine sets it (the thread count asked for), fixed by the first call.
 */
export function cpuLlama(maxThreads: number): Promise<Llama> {
  llamaPromise ??= getLlama({
    gpu: false,
    maxThreads,
    build: 'never',
    skipDownload: true,
    logLevel: LlamaLogLevel.info,
    // Keep only llama_perf's timing lines; the rest of the info chatter is dropped.
    logger: (level, message) => {
      if (level === LlamaLogLevel.error) process.stderr.write(message)
      else if (/eval time|total time/.test(message)) captured.push(message)
    },
  })
  return llamaPromise
}

export interface DecoderOptions {
  threads: number
  /** Context size budget (default 256). */
  maxTokens?: number
  flashAttention?: 'auto' | boolean
  batchSize?: number
}

export interface DecodeRun {
  tokens: number
  /** From the first generated token to the last, as seen by JavaScript. */
  wallTokensPerSecond: number
  /** llama.cpp's own decode time for the same steps (llama_perf "eval time"); null when it logged none. */
  llamaTokensPerSecond: number | null
  llamaEvalRuns: number | null
}

export interface Decoder {
  measure(tokens: number): Promise<DecodeRun>
  close(): Promise<void>
}

/**
 * Opens a model once and returns a decoder whose measure() can be called many times (so runs can be
 * interleaved with llama-bench without reloading). Options: threads (required), maxTokens (context size
 * budget, default 256), flashAttention ('auto' | boolean, default false), batchSize (default 512).
 */
export async function openDecoder(modelPath: string, options: DecoderOptions): Promise<Decoder> {
  const maxTokens = options.maxTokens ?? 256
  const llama = await cpuLlama(options.threads)
  const model = await llama.loadModel({modelPath, gpuLayers: 0})
  const context = await model.createContext({
    contextSize: maxTokens + 16,
    batchSize: options.batchSize ?? 512,
    sequences: 1,
    threads: {ideal: options.threads, min: options.threads},
    flashAttention: options.flashAttention ?? false,
    performanceTracking: true,
  })
  const sequence = context.getSequence()

  /**
   * Decodes `tokens` tokens after a 1-token prompt. wallTokensPerSecond: from the first generated token to
   * the last, as seen by JavaScript. llamaTokensPerSecond: llama.cpp's own decode time for the same steps
   * (llama_perf "eval time"), which excludes sampling and the JS/N-API round trip; the gap is that overhead.
   */
  async function measure(tokens: number): Promise<DecodeRun> {
    await sequence.clearHistory()
    await context.printTimings() // resets llama_perf's counters
    captured = []
    const stamps: number[] = []
    for await (const _token of sequence.evaluate([1 as Token], {temperature: 0, yieldEogToken: true})) {
      stamps.push(performance.now())
      if (stamps.length > tokens) break
    }
    await context.printTimings()
    const evalLine = captured.find((line) => /\beval time/.test(line) && !/prompt eval/.test(line))
    const match = evalLine === undefined ? null : /eval time =\s*([\d.]+) ms \/\s*(\d+) runs/.exec(evalLine)
    const wallMs = stamps.at(-1)! - stamps[0]!
    return {
      tokens: stamps.length - 1,
      wallTokensPerSecond: ((stamps.length - 1) / wallMs) * 1000,
      llamaTokensPerSecond: match === null ? null : (Number(match[2]) / Number(match[1])) * 1000,
      llamaEvalRuns: match === null ? null : Number(match[2]),
    }
  }

  return {
    measure,
    async close() {
      await context.dispose()
      await model.dispose()
    },
  }
}

/** One-shot form with the same shape as the project's measureDecodeTokensPerSecond. */
export async function measureDecodeTokensPerSecond(
  modelPath: string,
  options: {threads: number; tokens: number; flashAttention?: 'auto' | boolean},
): Promise<DecodeRun & {tokensPerSecond: number}> {
  const decoder = await openDecoder(modelPath, {
    threads: options.threads,
    maxTokens: options.tokens,
    ...(options.flashAttention === undefined ? {} : {flashAttention: options.flashAttention}),
  })
  try {
    await decoder.measure(Math.min(8, options.tokens)) // warmup
    const result = await decoder.measure(options.tokens)
    return {tokensPerSecond: result.wallTokensPerSecond, ...result}
  } finally {
    await decoder.close()
  }
}
