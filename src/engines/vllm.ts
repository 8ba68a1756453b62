import {constants as fsConstants, mkdtempSync} from 'node:fs'
import {access} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {delimiter, isAbsolute, join} from 'node:path'

import {CapplanError, EngineError, invalidInput, notFound} from '../lib/errors.js'
import {findFreePort} from '../lib/ports.js'
import {redactArgv} from '../lib/redact.js'
import type {ModelProfile, QuantLevel} from '../profiles/schema.js'
import {engineEvents, protocolPaths, requestBody, serverErrorMessage, streamRequest} from './http/stream-client.js'
import {DEFAULT_REQUEST_TIMEOUT_MS} from './openai.js'
import {
  bindHostArg,
  clientHostFor,
  DEFAULT_BIND_HOST,
  describeExit,
  type ManagedProcess,
  type ReadyOutcome,
  readLogTail,
  spawnManaged,
  unexpectedExitOf,
  waitForHealth,
  withServerDeath,
} from './spawned/process.js'
import type {Engine, EngineExit, EngineInfo, GenRequest, StreamEvent} from './types.js'

/**
 * `--engine vllm`: capplan spawns `vllm serve` (argument array, never a shell, own process group: vLLM
 * forks one worker per GPU and process.ts kills the whole group), waits for GET /health = 200, reads
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
export const VLLM_LEN_MARGIN_TOKENS = 16
export const DEFAULT_GPU_MEMORY_UTILIZATION = 0.9

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
    '--no-enable-prefix-caching',
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
  // cache_prompt is llama.cpp's; vLLM would only log that it ignored it (prefix caching is off by flag).
  delete body.cache_prompt
  return body
}

/** An executable's path: as given when it has a slash, else the first match on PATH; null when none. */
export async function resolveExecutable(bin: string, path = process.env.PATH ?? ''): Promise<string | null> {
  const candidates = bin.includes('/') || isAbsolute(bin) ? [bin] : path.split(delimiter).filter((dir) => dir !== '').map((dir) => join(dir, bin))
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

export interface VllmEngineOptions {
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
  /** The server's stdout+stderr; default: a file in a new temp directory. Keep it beside the result file. */
  logFile?: string
  /** The address vllm serve binds (--host); default 127.0.0.1. A wildcard (0.0.0.0, ::) is reached on 127.0.0.1. */
  host?: string
  /** Give up waiting for /health after this long. Default 30 minutes (a 72B checkpoint downloads and loads for long). */
  startupTimeoutMs?: number
  /** Per-request limit; null = none. Default 10 minutes. */
  requestTimeoutMs?: number | null
  /** Environment for vllm (e.g. CUDA_VISIBLE_DEVICES, HF_HOME); merged over capplan's. */
  env?: Record<string, string>
}

/**
 * Ordinary English words. The server's OWN tokenizer turns them into token ids that are certainly ordinary
 * vocabulary (no BOS/EOS, control, byte or unused ids): vLLM has no GGUF header to read token types from,
 * and guessing an id range is unsafe (special tokens sit at 0-2 in some vocabularies, above 128000 or
 * 151643 in others). 250 distinct words give >= 250 ids, so >= 62,500 unique synthetic prompts (prompts.ts).
 */
export const PROMPT_POOL_TEXT = [
  'time year people way day man thing woman life child world school state family student group country problem hand part',
  'place case week company system program question work government number night point home water room mother area money story',
  'fact month lot right study book eye job word business issue side kind head house service friend father power hour game line',
  'end member law car city community name president team minute idea kid body information back parent face others level office',
  'door health person art war history party result change morning reason research girl guy moment air teacher force education',
  'foot boy age policy process music market sense nation plan college interest death experience effect class control care field',
  'development role effort rate heart drug show leader light voice wife police mind price report decision son view relationship',
  'town road arm difference value building action model season society tax director position player record paper space ground',
  'form event official matter center couple site project activity star table need court oil situation cost industry figure street',
  'image phone data picture practice piece land product doctor wall patient worker news test movie north love support technology',
  'step baby computer type attention film tree source organization hair window evidence population truth song garden river stone',
  'quickly slowly bright green yellow purple orange silver golden ancient modern simple complex gentle strong quiet loud happy',
  'run walk jump swim write read speak listen think build create destroy open close begin finish travel measure count carry',
].join(' ')

const BIND_RETRIES = 3
const LOG_TAIL_LINES = 20

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

export class VllmEngine implements Engine {
  private server: ManagedProcess | null = null
  private bin: string | null = null
  private args: string[] = []
  private endpoint: string | null = null
  private version: string | null = null
  private model: string | null = null
  private lastExit: {code: number | null; signal: string | null} | null = null
  private tokenPool: number[] | undefined
  private apiKey: string | null = null
  readonly logFile: string

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
    this.logFile = options.logFile ?? join(mkdtempSync(join(tmpdir(), 'capplan-vllm-')), 'vllm.log')
  }

  /** The server's pid while it runs (tests check it is gone after stop()). */
  get pid(): number | null {
    return this.server?.pid ?? null
  }

  private get bindHost(): string {
    return bindHostArg(this.options.host ?? DEFAULT_BIND_HOST)
  }

  private commandLine(port: number): string[] {
    return vllmCommandLine(this.options.profile, this.options.quant, {
      bin: this.bin ?? 'vllm',
      host: this.bindHost,
      port,
      gpus: this.options.gpus,
      maxModelLen: vllmMaxModelLen(this.options.inputTokens, this.options.outputTokens),
      maxNumSeqs: this.options.maxConcurrency,
      gpuMemoryUtilization: this.options.gpuMemoryUtilization,
      synthetic: this.options.synthetic,
      extraArgs: this.options.extraArgs,
    })
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
    this.bin = bin
    this.apiKey = vllmApiKey(this.options.extraArgs ?? [], this.options.env ?? process.env)
    const startupTimeoutMs = this.options.startupTimeoutMs ?? 30 * 60_000
    const deadline = performance.now() + startupTimeoutMs
    for (let attempt = 1; ; attempt++) {
      const port = await findFreePort(this.bindHost)
      const [file, ...args] = this.commandLine(port)
      this.args = args
      this.endpoint = `http://${clientHostFor(this.bindHost)}:${port}`
      this.server = await spawnManaged(file!, args, {
        logFile: this.logFile,
        displayArgs: redactArgv(args),
        ...(this.options.env === undefined ? {} : {env: this.options.env}),
      })
      const outcome = await this.waitUntilReady(this.server, this.endpoint, deadline)
      if (outcome === 'ready') break
      const tail = await readLogTail(this.logFile, LOG_TAIL_LINES)
      await this.stop()
      if (outcome === 'exited' && attempt < BIND_RETRIES && tail.some((line) => /address already in use|errno 98/i.test(line))) continue
      const display = [bin, ...redactArgv(args)].join(' ')
      if (outcome === 'exited') {
        throw new EngineError(
          `vllm serve exited before it was ready (${describeExit(this.lastExit)}).`,
          `Read the log lines below (full log: ${this.logFile}): out of GPU memory -> fewer --concurrency or more --gpus; unknown flag -> check the vLLM version.`,
          display,
          tail,
        )
      }
      throw new EngineError(
        `vllm serve was not ready within ${Math.round(startupTimeoutMs / 1000)} s (GET /health never answered 200).`,
        `Raise --startup-timeout (a large checkpoint downloads and loads for minutes), or read the log (${this.logFile}).`,
        display,
        tail,
      )
    }
    await this.readServerFacts()
  }

  /** Poll GET /health (connection refused while loading) until 200, the process exits, or the deadline passes. */
  private async waitUntilReady(server: ManagedProcess, endpoint: string, deadline: number): Promise<ReadyOutcome> {
    const {outcome, exit} = await waitForHealth(server, endpoint, deadline, 250)
    if (exit !== null) this.lastExit = exit
    return outcome
  }

  /** GET /version (engine version) and GET /v1/models (the id to send as "model"). */
  private async readServerFacts(): Promise<void> {
    const getJson = async (path: string): Promise<{status: number; body: unknown}> => {
      const response = await fetch(`${this.endpoint}${path}`, {headers: this.requestHeaders(), signal: AbortSignal.timeout(10_000)})
      const text = await response.text()
      try {
        return {status: response.status, body: JSON.parse(text) as unknown}
      } catch {
        return {status: response.status, body: null}
      }
    }
    try {
      const version = (await getJson('/version')).body as {version?: unknown} | null
      this.version = typeof version?.version === 'string' ? version.version : null
    } catch {
      this.version = null // informative only
    }
    const repo = this.options.profile.quants[this.options.quant].vllm.repo
    try {
      const models = await getJson('/v1/models')
      const data = (models.body as {data?: unknown} | null)?.data
      const ids = Array.isArray(data) ? data.map((m) => (m as {id?: unknown}).id).filter((id): id is string => typeof id === 'string') : []
      // vLLM serves the checkpoint under its repo name unless --served-model-name (an extra arg) renames it.
      this.model = ids.includes(repo) ? repo : (ids[0] ?? repo)
      if (models.status !== 200) {
        const detail = serverErrorMessage(models.body)
        throw new Error(`HTTP ${models.status}${detail === null ? '' : `: ${detail}`}`)
      }
    } catch (error) {
      const tail = await readLogTail(this.logFile, LOG_TAIL_LINES)
      await this.stop()
      throw new EngineError(
        `vllm serve answered /health but not GET /v1/models (${error instanceof Error ? error.message : String(error)}).`,
        `Read the log (${this.logFile}).`,
        [this.bin ?? 'vllm', ...redactArgv(this.args)].join(' '),
        tail,
      )
    }
  }

  info(): EngineInfo {
    if (this.endpoint === null || this.model === null) {
      throw new CapplanError('ENGINE_FAILURE', 'The vllm engine was used before start().', 'This is a bug in capplan.')
    }
    return {
      kind: 'vllm',
      version: this.version,
      // vLLM reports one version string; there is no separate inference-core build to record.
      build: null,
      backend: 'cuda',
      threads: null,
      gpuCount: this.options.gpus,
      args: [this.bin ?? 'vllm', ...redactArgv(this.args)],
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

  async *stream(request: GenRequest, signal: AbortSignal): AsyncGenerator<StreamEvent> {
    if (this.endpoint === null || this.server === null || this.model === null) {
      yield {kind: 'error', errorKind: 'engine', message: 'The vllm engine was used before start() (or after stop()).'}
      return
    }
    yield* withServerDeath(
      engineEvents(
        streamRequest({
          url: `${this.endpoint}${protocolPaths['openai-completions']}`,
          protocol: 'openai-completions',
          body: vllmRequestBody(request, this.model),
          headers: this.requestHeaders(),
          secrets: this.apiKey === null ? [] : [this.apiKey],
          keepAlive: false,
          // A spawned server is always plain http on this machine: node:http stamps each read in the socket's own
          // callback (ITL timing error p99 ~3 ms instead of ~6-13 ms through fetch, bench/loadgen-bench.js).
          transport: 'node-http',
          signal,
          timeoutMs: this.options.requestTimeoutMs === undefined ? DEFAULT_REQUEST_TIMEOUT_MS : this.options.requestTimeoutMs,
        }),
      ),
      this.server,
      'vllm serve',
    )
  }

  /** `authorization: Bearer KEY` when the server was started with a key; {} otherwise. Never recorded. */
  requestHeaders(): Record<string, string> {
    return this.apiKey === null ? {} : {authorization: `Bearer ${this.apiKey}`}
  }

  /** How vllm serve ended if it died while in use (null while it runs, and after stop()). */
  exited(): EngineExit | null {
    return unexpectedExitOf(this.server, 'vllm serve')
  }

  async stop(): Promise<void> {
    const server = this.server
    this.server = null
    if (server !== null) {
      // vLLM shuts its workers down on SIGTERM; give it longer than llama-server before SIGKILL.
      await server.stop(15_000)
      this.lastExit = server.exitStatus()
    }
  }
}
