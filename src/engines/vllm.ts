import {constants as fsConstants} from 'node:fs'
import {access} from 'node:fs/promises'
import {delimiter, isAbsolute, join} from 'node:path'

import {EngineError, invalidInput, notFound} from '../lib/errors.js'
import type {ModelProfile, QuantLevel} from '../profiles/schema.js'
import {getJson} from './http/json.js'
import {requestBody, serverErrorMessage} from './http/protocols.js'
import {PROMPT_POOL_TEXT} from './prompt-pool.js'
import {SpawnedServer, type SpawnedServerOptions} from './spawned/server.js'
import type {EngineInfo, GenRequest, StreamEvent} from './types.js'

/**
 * `--engine vllm`: capplan spawns `vllm serve` (argument array, never a shell, own process group: vLLM
 * forks one worker per GPU and spawned/process.ts kills the whole group), waits for GET /health = 200, reads
 * GET /version and GET /v1/models, and streams POST /v1/completions with token-id prompts.
 *
 * Flags, and why (protocols.md "vLLM"):
 * - the checkpoint of the quant from the model profile (quants.<q>.vllm.repo): AWQ / GPTQ-Int4 = int4,
 *   GPTQ-Int8 / W8A8 = int8, the BF16 original = fp16; --quantization and --dtype from the same entry;
 * - --tensor-parallel-size = --gpus (the cost model multiplies by the GPUs one replica uses);
 * - --max-model-len = input + output + margin: vLLM otherwise reserves KV for the model's full context
 *   (32k for Qwen2.5) and may refuse to start or admit fewer sequences;
 * - --max-num-seqs = the highest concurrency: every request of a level runs, none queues in the server
 *   beyond what capplan measures;
 * - --no-enable-prefix-caching: prefix caching inflated throughput up to 86% on repeated prompts
 *   (metrics.md trap 1), and capplan's prompts must cost a full prefill each;
 * - --load-format dummy with --synthetic: random weights of the real shapes, throughput without the
 *   download (config and tokenizer are still fetched).
 * Extra args come LAST, so the user can override any of them.
 */

/** Tokens beyond prompt + output in --max-model-len (same margin as the llama.cpp engines' per-slot context). */
const VLLM_LEN_MARGIN_TOKENS = 16
const DEFAULT_GPU_MEMORY_UTILIZATION = 0.9

export interface VllmCommandOptions {
  /** The vllm executable; default 'vllm'. */
  bin?: string
  host: string
  port: number
  /** --tensor-parallel-size. */
  gpus: number
  /** --max-model-len (see vllmMaxModelLen). */
  maxModelLen: number
  /** --max-num-seqs: the highest concurrency of the run. */
  maxNumSeqs: number
  /** --enable-prefix-caching for shared-prefix / multi-turn / trace workloads; default off (the control). */
  prefixCaching?: boolean
  gpuMemoryUtilization?: number
  /** --load-format dummy. */
  synthetic?: boolean
  extraArgs?: readonly string[]
}

/** --max-model-len for a workload: input + output + margin. */
export function vllmMaxModelLen(inputTokens: number, outputTokens: number): number {
  return inputTokens + outputTokens + VLLM_LEN_MARGIN_TOKENS
}

/** The whole command line [bin, 'serve', checkpoint, ...flags] (pure; see the module comment for why each flag). */
export function vllmCommandLine(profile: ModelProfile, quant: QuantLevel, opts: VllmCommandOptions): string[] {
  const source = profile.quants[quant].vllm
  return [
    opts.bin ?? 'vllm',
    'serve',
    source.repo,
    '--host',
    opts.host,
    '--port',
    String(opts.port),
    '--dtype',
    source.dtype,
    ...(source.quantization === null ? [] : ['--quantization', source.quantization]),
    '--tensor-parallel-size',
    String(opts.gpus),
    '--max-model-len',
    String(opts.maxModelLen),
    '--gpu-memory-utilization',
    String(opts.gpuMemoryUtilization ?? DEFAULT_GPU_MEMORY_UTILIZATION),
    '--max-num-seqs',
    String(opts.maxNumSeqs),
    // A caching workload: prefix caching on, and usage.prompt_tokens_details.cached_tokens in every answer.
    ...(opts.prefixCaching === true ? ['--enable-prefix-caching', '--enable-prompt-tokens-details'] : ['--no-enable-prefix-caching']),
    ...(opts.synthetic === true ? ['--load-format', 'dummy'] : []),
    ...(opts.extraArgs ?? []),
  ]
}

/**
 * The checkpoint a quant loads under vLLM and its weight format for the result file (model.repo,
 * model.format): AWQ, GPTQ-Int4 / GPTQ-Int8, W8A8, FP8 (quantized on the fly), or the dtype of an
 * unquantized checkpoint (BF16 / FP16).
 */
export function vllmCheckpoint(profile: ModelProfile, quant: QuantLevel): {repo: string; format: string} {
  const {repo, quantization, dtype} = profile.quants[quant].vllm
  const q = quantization?.toLowerCase() ?? null
  let format: string
  if (q === null) format = dtype === 'bfloat16' ? 'BF16' : dtype === 'float16' ? 'FP16' : 'auto'
  else if (q.includes('awq')) format = 'AWQ'
  else if (q.includes('gptq')) format = /GPTQ-Int(\d+)/i.exec(repo)?.[0] ?? 'GPTQ'
  else if (q.startsWith('fp8')) format = 'FP8'
  else format = /W\d+A\d+/i.exec(repo)?.[0].toUpperCase() ?? quantization!
  return {repo, format}
}

/** The body of one streamed completion for vLLM: token-id prompt, ignore_eos, min_tokens = max_tokens, usage. */
export function vllmRequestBody(request: GenRequest, model: string): Record<string, unknown> {
  const body = requestBody('openai-completions', request, {model})
  // cache_prompt is llama.cpp's; vLLM would only log that it ignored it (prefix caching is set by flag).
  delete body.cache_prompt
  return body
}

/** An executable's path: as given when it has a slash, else the first match on PATH; null when none. */
async function resolveExecutable(bin: string, path = process.env.PATH ?? ''): Promise<string | null> {
  const candidates =
    bin.includes('/') || isAbsolute(bin)
      ? [bin]
      : path
          .split(delimiter)
          .filter((dir) => dir !== '')
          .map((dir) => join(dir, bin))
  for (const candidate of candidates) {
    try {
      await access(candidate, fsConstants.X_OK)
      return candidate
    } catch {
      // next
    }
  }
  return null
}

export interface VllmEngineOptions extends SpawnedServerOptions {
  /** The workload reuses prompt prefixes: serve with prefix caching on. */
  prefixCaching?: boolean
  profile: ModelProfile
  quant: QuantLevel
  /** --gpus: tensor parallel size. */
  gpus: number
  /** The highest concurrency of the run (--max-num-seqs). */
  maxConcurrency: number
  inputTokens: number
  outputTokens: number
  /** --synthetic: --load-format dummy. */
  synthetic?: boolean
  /** vllm executable; default 'vllm' on PATH. */
  vllmBin?: string
  gpuMemoryUtilization?: number
  /** Passed through after capplan's flags (they override them). */
  extraArgs?: readonly string[]
  /** Environment for vllm (e.g. CUDA_VISIBLE_DEVICES, HF_HOME); merged over capplan's. */
  env?: Record<string, string>
}

/**
 * The API key `vllm serve` will demand (`--api-key KEY` after --, or VLLM_API_KEY in the environment it
 * inherits), so capplan's own client can send it; null when the server runs without one. vLLM checks it on
 * /v1/* only, but sending it everywhere is harmless. Never recorded: redactArgs hides it in command lines.
 */
export function vllmApiKey(extraArgs: readonly string[], env: Record<string, string | undefined> = process.env): string | null {
  let key: string | null = null
  for (let i = 0; i < extraArgs.length; i++) {
    const arg = extraArgs[i]!
    if (arg.startsWith('--api-key=')) key = arg.slice('--api-key='.length)
    else if (arg === '--api-key') {
      const value = extraArgs[i + 1]
      if (value === undefined) throw invalidInput('The engine argument --api-key (after --) has no value.', 'Pass -- --api-key KEY.')
      key = value
      i++
    }
  }
  if (key === null && env.VLLM_API_KEY !== undefined && env.VLLM_API_KEY !== '') key = env.VLLM_API_KEY
  return key === '' ? null : key
}

export class VllmEngine extends SpawnedServer {
  private version: string | null = null
  private model: string | null = null
  private tokenPool: number[] | undefined

  constructor(readonly options: VllmEngineOptions) {
    const positive = (value: number, what: string, suggestion: string) => {
      if (!Number.isInteger(value) || value < 1) throw invalidInput(`${what} must be a whole number >= 1, got ${value}.`, suggestion)
    }
    positive(options.gpus, '--gpus (vLLM --tensor-parallel-size)', 'Pass the GPUs one replica uses, e.g. --gpus 2.')
    positive(options.maxConcurrency, 'The highest concurrency (vLLM --max-num-seqs)', 'Pass e.g. --concurrency 1,4,16.')
    positive(options.inputTokens, '--input-tokens', 'Pass e.g. --input-tokens 512.')
    positive(options.outputTokens, '--output-tokens', 'Pass e.g. --output-tokens 128.')
    const utilization = options.gpuMemoryUtilization ?? DEFAULT_GPU_MEMORY_UTILIZATION
    if (!(utilization > 0 && utilization <= 1)) {
      throw invalidInput(`The GPU memory utilization must be in (0, 1], got ${utilization}.`, 'Pass e.g. 0.9 (vLLM --gpu-memory-utilization).')
    }
    super(
      {
        kind: 'vllm',
        name: 'vllm serve',
        bin: 'vllm',
        startupTimeoutMs: 30 * 60_000, // a 72B checkpoint downloads and loads for long
        healthPollMs: 250, // connection refused while loading
        stopGraceMs: 15_000, // vLLM shuts its workers down on SIGTERM; longer than llama-server
        portTaken: /address already in use|errno 98/i,
        exitedAdvice: ': out of GPU memory -> fewer --concurrency or more --gpus; unknown flag -> check the vLLM version.',
        startupAdvice: ' (a large checkpoint downloads and loads for minutes)',
      },
      options,
    )
  }

  /** `serve CHECKPOINT --host ...`: vllmCommandLine without the executable. */
  protected serverArgs(port: number): string[] {
    return vllmCommandLine(this.options.profile, this.options.quant, {
      host: this.bindHost,
      port,
      gpus: this.options.gpus,
      maxModelLen: vllmMaxModelLen(this.options.inputTokens, this.options.outputTokens),
      maxNumSeqs: this.options.maxConcurrency,
      gpuMemoryUtilization: this.options.gpuMemoryUtilization,
      synthetic: this.options.synthetic,
      ...(this.options.prefixCaching === true ? {prefixCaching: true} : {}),
      extraArgs: this.options.extraArgs,
    }).slice(1)
  }

  async start(): Promise<void> {
    const wanted = this.options.vllmBin ?? 'vllm'
    const bin = await resolveExecutable(wanted, this.options.env?.PATH ?? process.env.PATH)
    if (bin === null) {
      throw notFound(
        `No vllm executable found (${wanted}${wanted.includes('/') ? '' : ' on PATH'}).`,
        'Run capplan on the GPU machine where vLLM is installed (pip install vllm), or pass --vllm-bin /path/to/vllm; to measure a vLLM server that is already running use --engine openai --endpoint URL.',
      )
    }
    this.apiKey = vllmApiKey(this.options.extraArgs ?? [], this.options.env ?? process.env)
    await this.launch(bin, this.options.env)
    await this.readServerFacts()
  }

  /** GET /version (engine version) and GET /v1/models (the id to send as "model"). */
  private async readServerFacts(): Promise<void> {
    const get = (path: string) => getJson(`${this.endpoint}${path}`, this.requestHeaders(), 10_000)
    try {
      const version = (await get('/version')).body as {version?: unknown} | null
      this.version = typeof version?.version === 'string' ? version.version : null
    } catch {
      this.version = null // informative only
    }
    const repo = this.options.profile.quants[this.options.quant].vllm.repo
    try {
      const models = await get('/v1/models')
      const data = (models.body as {data?: unknown} | null)?.data
      const ids = Array.isArray(data) ? data.map((m) => (m as {id?: unknown}).id).filter((id): id is string => typeof id === 'string') : []
      // vLLM serves the checkpoint under its repo name unless --served-model-name (an extra arg) renames it.
      this.model = ids.includes(repo) ? repo : (ids[0] ?? repo)
      if (models.status !== 200) {
        const detail = serverErrorMessage(models.body)
        throw new Error(`HTTP ${models.status}${detail === null ? '' : `: ${detail}`}`)
      }
    } catch (error) {
      throw await this.abandon(
        `vllm serve answered /health but not GET /v1/models (${error instanceof Error ? error.message : String(error)}).`,
        `Read the log (${this.logFile}).`,
      )
    }
  }

  info(): EngineInfo {
    if (this.endpoint === null || this.model === null) throw this.usedBeforeStart()
    return {
      kind: 'vllm',
      version: this.version,
      // vLLM reports one version string; there is no separate inference-core build to record.
      build: null,
      backend: 'cuda',
      threads: null,
      gpuCount: this.options.gpus,
      args: this.commandLine(),
      endpoint: this.endpoint,
    }
  }

  /** The model id requests carry (the served name). */
  servedModel(): string | null {
    return this.model
  }

  /** POST /tokenize with the served model's tokenizer, no special tokens added. */
  async tokenize(text: string): Promise<number[]> {
    let status = 0
    let tokens: unknown = null
    try {
      const response = await fetch(`${this.endpoint}/tokenize`, {
        method: 'POST',
        headers: {'content-type': 'application/json', ...this.requestHeaders()},
        body: JSON.stringify({model: this.model, prompt: text, add_special_tokens: false}),
        signal: AbortSignal.timeout(30_000),
      })
      status = response.status
      tokens = ((await response.json()) as {tokens?: unknown} | null)?.tokens ?? null
    } catch {
      tokens = null
    }
    if (!Array.isArray(tokens) || !tokens.every((t) => Number.isInteger(t) && (t as number) >= 0)) {
      throw new EngineError(
        `POST /tokenize answered ${status === 0 ? 'nothing' : `HTTP ${status}`} without a token list.`,
        `Check the vLLM log (${this.logFile}); the prompt builder needs the tokenizer endpoint.`,
        `POST ${this.endpoint}/tokenize`,
      )
    }
    return tokens as number[]
  }

  /** Distinct ids of PROMPT_POOL_TEXT under the served model's tokenizer (POST /tokenize), sorted. */
  async promptTokenPool(): Promise<number[]> {
    this.tokenPool ??= [...new Set(await this.tokenize(PROMPT_POOL_TEXT))].sort((a, b) => a - b)
    return this.tokenPool
  }

  stream(request: GenRequest, signal: AbortSignal): AsyncGenerator<StreamEvent> {
    // No served model id before start() has read /v1/models: a null body says the engine is not running.
    return this.serverStream('openai-completions', this.model === null ? null : vllmRequestBody(request, this.model), signal)
  }
}
