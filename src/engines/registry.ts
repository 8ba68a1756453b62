import {invalidInput} from '../lib/errors.js'
import type {ModelProfile, QuantLevel} from '../profiles/schema.js'
import {EmbeddedEngine} from './embedded.js'
import {protocolPaths} from './http/protocols.js'
import {LlamaCppEngine} from './llamacpp/engine.js'
import {OpenAiEngine} from './openai.js'
import type {Engine} from './types.js'
import {VllmEngine} from './vllm.js'

/**
 * The engine kinds, the request APIs each one offers, and the one place an Engine is made from typed
 * values (the CLI's flags are parsed before they get here).
 */

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
export const ALL_APIS = [...ENGINE_APIS.llamacpp, ...ENGINE_APIS.openai] as const

/** The path each API POSTs to: its wire protocol's. */
export const API_PATHS: Record<EngineApi, string> = {
  completion: protocolPaths['llamacpp-completion'],
  'v1-completions': protocolPaths['openai-completions'],
  completions: protocolPaths['openai-completions'],
  chat: protocolPaths['openai-chat'],
}

/** Everything createEngine needs; each kind reads its own fields (named per field) and ignores the rest. */
export interface EngineOptions {
  /** embedded, llamacpp: the GGUF file. */
  modelPath: string
  /** vllm: the checkpoint comes from the model profile's quant entry. */
  profile: ModelProfile
  quant: QuantLevel
  /** embedded, llamacpp: 'cpu' keeps every layer off the GPU (llamacpp: -ngl 0). */
  device: 'auto' | 'cpu'
  /** embedded (null = 1), llamacpp (null = llama-server's choice). */
  threads: number | null
  /** The highest concurrency of the run: embedded sequences, llama-server slots, vLLM --max-num-seqs. */
  maxConcurrency: number
  /** embedded, llamacpp: prompt + output + margin of one request. */
  tokensPerSequence: number
  /** vllm: --max-model-len = input + output + margin. */
  inputTokens: number
  outputTokens: number
  /** vllm: --load-format dummy. */
  synthetic: boolean
  /** vllm: --enable-prefix-caching (a workload that reuses prompts); default off. */
  prefixCaching?: boolean
  /** llamacpp, vllm: words after `--`, passed to the server last. */
  extraArgs: readonly string[]
  /** llamacpp, vllm: the server's log (default: a temp file). */
  logFile?: string
  /** llamacpp, vllm. */
  startupTimeoutMs: number
  /** llamacpp, vllm, openai; undefined = the engine's default (10 minutes). */
  requestTimeoutMs?: number
  /** llamacpp, vllm: --host; undefined = 127.0.0.1. */
  bindHost?: string
  /** llamacpp (completion | v1-completions), openai (completions | chat); null or undefined = the default. */
  api?: EngineApi | null
  /** llamacpp: llama-server binary; undefined = found (capplan's build, PATH). */
  serverBin?: string
  /** vllm: the vllm executable; undefined = vllm on PATH. */
  vllmBin?: string
  /** vllm: tensor parallel size (undefined = 1); openai: GPUs behind the endpoint (undefined = 0, unknown). */
  gpus?: number
  /** openai: the server's base URL (required there). */
  endpoint?: string
  /** openai: model id; undefined = the first one GET /v1/models lists. */
  modelId?: string
  /** openai: the NAME of the environment variable holding the API key. */
  apiKeyEnv?: string
  /** llamacpp, openai: something the user should know (a fallback taken, ignored --endpoint parts). */
  onNote?: (message: string) => void
}

/** The engine of `kind`, configured from `options`; nothing is started (Engine.start does that). */
export function createEngine(kind: EngineKind, options: EngineOptions): Engine {
  const timeout = options.requestTimeoutMs === undefined ? {} : {requestTimeoutMs: options.requestTimeoutMs}
  const note = options.onNote === undefined ? {} : {onNote: options.onNote}
  // What llama-server and vllm serve share (SpawnedServerOptions and the words after --).
  const spawned = {
    extraArgs: options.extraArgs,
    ...(options.logFile === undefined ? {} : {logFile: options.logFile}),
    startupTimeoutMs: options.startupTimeoutMs,
    ...timeout,
    ...(options.bindHost === undefined ? {} : {host: options.bindHost}),
  }
  if (kind === 'embedded') {
    return new EmbeddedEngine({
      modelPath: options.modelPath,
      device: options.device,
      threads: options.threads ?? 1,
      maxConcurrency: options.maxConcurrency,
      tokensPerSequence: options.tokensPerSequence,
    })
  }
  if (kind === 'llamacpp') {
    return new LlamaCppEngine({
      modelPath: options.modelPath,
      ...(options.serverBin === undefined ? {} : {serverBin: options.serverBin}),
      threads: options.threads,
      maxConcurrency: options.maxConcurrency,
      tokensPerSequence: options.tokensPerSequence,
      ...(options.device === 'cpu' ? {gpuLayers: 0} : {}),
      ...spawned,
      api: options.api === 'v1-completions' ? 'v1-completions' : 'completion',
      ...note,
    })
  }
  if (kind === 'vllm') {
    return new VllmEngine({
      profile: options.profile,
      quant: options.quant,
      gpus: options.gpus ?? 1,
      maxConcurrency: options.maxConcurrency,
      inputTokens: options.inputTokens,
      outputTokens: options.outputTokens,
      synthetic: options.synthetic,
      ...(options.prefixCaching === true ? {prefixCaching: true} : {}),
      ...(options.vllmBin === undefined ? {} : {vllmBin: options.vllmBin}),
      ...spawned,
    })
  }
  if (options.endpoint === undefined) {
    throw invalidInput('--engine openai needs --endpoint URL: the server to measure.', 'Pass e.g. --endpoint http://127.0.0.1:8000.')
  }
  return new OpenAiEngine({
    endpoint: options.endpoint,
    ...(options.modelId === undefined ? {} : {model: options.modelId}),
    ...(options.apiKeyEnv === undefined ? {} : {apiKeyEnv: options.apiKeyEnv}),
    api: options.api === 'chat' ? 'chat' : 'completions',
    gpuCount: options.gpus ?? 0,
    ...timeout,
    ...note,
  })
}
