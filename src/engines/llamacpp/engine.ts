import {readFileSync, statSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {dirname, join} from 'node:path'

import {execa} from 'execa'

import {readGgufHeader} from '../../gguf/reader.js'
import {CapplanError, EngineError, invalidInput, notFound} from '../../lib/errors.js'
import {type LlamaServerTimings, requestBody, type WireProtocol} from '../http/protocols.js'
import type {ExitStatus} from '../spawned/process.js'
import {SpawnedServer, type SpawnedServerOptions} from '../spawned/server.js'
import type {EngineInfo, GenRequest, StreamEvent} from '../types.js'
import {findLlamaCppTool} from './build.js'

/**
 * `--engine llamacpp`: capplan spawns llama-server (argument array, never a shell) on a free local port,
 * waits for GET /health, streams POST /completion with token-id prompts (cache_prompt false), and tears
 * the server's whole process group down on stop(), on signals and on exit (spawned/server.ts, process.ts).
 *
 * Flags, and why (protocols.md has the version drift): -c = slots x (input + output + margin) because
 * llama-server SPLITS -c across slots; -np = the highest concurrency (every request gets a slot, none
 * queues inside the server); -ngl explicit (old builds offload nothing by default, new ones "auto");
 * --metrics for the /metrics scrape; -fa in the syntax this binary understands. Extra args come LAST so
 * the user can override any of them (llama.cpp keeps the last value of a repeated flag).
 */

export interface LlamaCppEngineOptions extends SpawnedServerOptions {
  modelPath: string
  /** llama-server binary; default: findLlamaCppTool('llama-server') ($CAPPLAN_LLAMA_BIN_DIR, capplan's build, PATH). */
  serverBin?: string
  /** -t; null lets llama-server choose. Callers pass the physical core count unless the user said otherwise. */
  threads: number | null
  /** -np: slots = the highest concurrency the run uses. */
  maxConcurrency: number
  /** Tokens one request occupies (prompt + output + margin; embedded.ts contextSizeFor). -c = slots x this. */
  tokensPerSequence: number
  /** -ngl; default 99 when the binary sees a GPU, 0 on a CPU-only build. */
  gpuLayers?: number
  /** -fa value; default 'auto'. */
  flashAttention?: 'on' | 'off' | 'auto'
  /** Passed through after capplan's own flags (they override them). */
  extraArgs?: readonly string[]
  /** 'completion' (default; llama.cpp's native POST /completion) or 'v1-completions' (POST /v1/completions). */
  api?: 'completion' | 'v1-completions'
  /** Called with llama-server's own timings of each finished request (accuracy checks). */
  onServerTimings?: (timings: LlamaServerTimings) => void
  /** Something the user should know (a fallback taken); bench prints it as a warning. */
  onNote?: (message: string) => void
}

/** What the binary itself says it supports (its --help, --version and --list-devices). */
export interface LlamaServerCapabilities {
  /** `version: ...` line of --version, e.g. "0.5.0-dev (build 1, commit de3ff81)". */
  version: string | null
  /** -fa takes on|off|auto (new builds) / is a bare switch (old builds) / is absent. */
  flashAttention: 'values' | 'switch' | 'absent'
  /** The flag that disables the bundled web UI, if any. */
  noUiFlag: '--no-ui' | '--no-webui' | null
  /** Device names from --list-devices, e.g. ["CUDA0"]; [] = CPU only. */
  devices: string[]
  /** The binary can turn CPU weight repacking off (--no-repack); see LlamaCppEngine.start. */
  noRepack: boolean
}

export function parseCapabilities(help: string, versionOutput: string, devicesOutput: string): LlamaServerCapabilities {
  const faLine = help.split('\n').find((line) => /(^|\s)-fa,?\s/.test(line) || line.includes('--flash-attn')) ?? null
  const flashAttention = faLine === null ? 'absent' : /on\|off\|auto|\[on|'auto'/.test(faLine) ? 'values' : 'switch'
  const noUiFlag = /--no-ui\b/.test(help) ? '--no-ui' : /--no-webui\b/.test(help) ? '--no-webui' : null
  const version = versionOutput.match(/^version:\s*(.+)$/m)?.[1]?.trim() ?? null
  const devices: string[] = []
  let inList = false
  for (const line of devicesOutput.split('\n')) {
    if (/^Available devices:/.test(line)) {
      inList = true
      continue
    }
    const device = inList ? line.match(/^\s+([A-Za-z][\w-]*\d*):\s/) : null
    if (device?.[1] !== undefined) devices.push(device[1])
  }
  return {version, flashAttention, noUiFlag, devices, noRepack: /--no-repack\b/.test(help)}
}

/** The backend of a llama.cpp device name: CUDA0 -> cuda, Vulkan1 -> vulkan, Metal -> metal, ROCm0 -> rocm. */
export function backendOf(devices: readonly string[]): string {
  const first = devices[0]
  if (first === undefined) return 'cpu'
  const name = first.replace(/\d+$/, '').toLowerCase()
  return name === 'hip' ? 'rocm' : name
}

export interface LlamaServerArgsInput {
  modelPath: string
  host: string
  port: number
  contextSize: number
  slots: number
  threads: number | null
  gpuLayers: number
  flashAttention: 'on' | 'off' | 'auto'
  capabilities: LlamaServerCapabilities
  extraArgs: readonly string[]
  /** Add --no-repack (CPU weight repacking off; the AMX fallback, see LlamaCppEngine.start). */
  noRepack?: boolean
}

/** llama-server's argument array (pure; see the module comment for why each flag). */
export function llamaServerArgs(input: LlamaServerArgsInput): string[] {
  const {capabilities: caps} = input
  const flashAttention = caps.flashAttention === 'values' ? ['-fa', input.flashAttention] : caps.flashAttention === 'switch' && input.flashAttention === 'on' ? ['-fa'] : []
  return [
    '-m',
    input.modelPath,
    '--host',
    input.host,
    '--port',
    String(input.port),
    '-c',
    String(input.contextSize),
    '-np',
    String(input.slots),
    '--metrics',
    ...(input.threads === null ? [] : ['-t', String(input.threads)]),
    '-ngl',
    String(input.gpuLayers),
    ...flashAttention,
    ...(caps.noUiFlag === null ? [] : [caps.noUiFlag]),
    ...(input.noRepack === true && caps.noRepack ? ['--no-repack'] : []),
    ...input.extraArgs,
  ]
}

/** A key file larger than this is not a key file (read whole, so refused first). */
const MAX_API_KEY_FILE_BYTES = 1024 * 1024

/**
 * The API key llama-server will demand, so capplan's own client can send it (`Authorization: Bearer KEY`); null
 * when the server runs without one. llama.cpp's rules: --api-key takes a comma-separated list, --api-key-file
 * one key per line (lines starting with # are comments, empty lines skipped), every key given is accepted, and
 * the environment (LLAMA_API_KEY, LLAMA_ARG_API_KEY_FILE, inherited by the server) counts only when the flag is
 * absent. capplan sends the first key. The value is never recorded: redactArgv hides it in every command line.
 */
export function serverApiKey(extraArgs: readonly string[], env: NodeJS.ProcessEnv = process.env, readKeyFile: (file: string) => string = readApiKeyFile): string | null {
  const keys: string[] = []
  const fromList = (value: string) =>
    keys.push(
      ...value
        .split(',')
        .map((key) => key.trim())
        .filter((key) => key !== ''),
    )
  const fromFile = (file: string) => {
    for (const line of readKeyFile(file).split('\n')) {
      const key = line.replace(/\r$/, '')
      if (key !== '' && !key.startsWith('#')) keys.push(key)
    }
  }
  let flagSeen = false
  let fileFlagSeen = false
  for (let i = 0; i < extraArgs.length; i++) {
    const arg = extraArgs[i]!
    const inline = arg.match(/^(--api-key|--api-key-file)=(.*)$/s)
    const flag = inline?.[1] ?? (arg === '--api-key' || arg === '--api-key-file' ? arg : null)
    if (flag === null) continue
    const value = inline?.[2] ?? extraArgs[++i]
    if (value === undefined) {
      throw invalidInput(`The engine argument ${flag} (after --) has no value.`, `Pass ${flag === '--api-key' ? '-- --api-key KEY' : '-- --api-key-file FILE'}.`)
    }
    if (flag === '--api-key') {
      flagSeen = true
      fromList(value)
    } else {
      fileFlagSeen = true
      fromFile(value)
    }
  }
  if (!flagSeen && env['LLAMA_API_KEY'] !== undefined) fromList(env['LLAMA_API_KEY'])
  if (!fileFlagSeen && env['LLAMA_ARG_API_KEY_FILE'] !== undefined && env['LLAMA_ARG_API_KEY_FILE'] !== '') fromFile(env['LLAMA_ARG_API_KEY_FILE'])
  return keys[0] ?? null
}

/** The text of an --api-key-file; one clear error (naming the file, never its content) when it cannot be read. */
function readApiKeyFile(file: string): string {
  try {
    const {size} = statSync(file)
    if (size > MAX_API_KEY_FILE_BYTES) {
      throw invalidInput(`--api-key-file ${file} is ${size} bytes: too large for a key file.`, 'Pass a file holding the API key(s), one per line.')
    }
    return readFileSync(file, 'utf8')
  } catch (error) {
    if (error instanceof CapplanError) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw notFound(`--api-key-file ${file} (an engine argument after --) does not exist.`, 'Check the path of the key file.')
    throw invalidInput(`Cannot read --api-key-file ${file}: ${code ?? String(error)}.`, 'Check that the key file is a readable file.')
  }
}

const capabilityCache = new Map<string, Promise<LlamaServerCapabilities>>()

/** Ask the binary what it supports (cached per path). */
async function probeLlamaServer(bin: string): Promise<LlamaServerCapabilities> {
  let probe = capabilityCache.get(bin)
  if (probe === undefined) {
    const run = async (flag: string) => {
      const result = await execa(bin, [flag], {reject: false, timeout: 30_000, all: true, stdin: 'ignore'})
      return {output: result.all ?? '', failed: result.failed, why: result.originalMessage || result.shortMessage}
    }
    probe = (async () => {
      const [help, version, devices] = [await run('--help'), await run('--version'), await run('--list-devices')]
      if (help.failed && help.output === '' && version.output === '') {
        throw new EngineError(
          `Could not run ${bin}: ${help.why}.`,
          'Check the path is an executable llama-server (capplan engine build llama-server builds one).',
          `${bin} --help`,
        )
      }
      return parseCapabilities(help.output, version.output, devices.output)
    })()
    capabilityCache.set(bin, probe)
    probe.catch(() => capabilityCache.delete(bin))
  }
  return probe
}

/** capplan's build-info.json beside a binary it built (<build>/build/bin/llama-server -> <build>/build-info.json). */
async function capplanBuildOf(bin: string): Promise<string | null> {
  try {
    const info = JSON.parse(await readFile(join(dirname(bin), '..', '..', 'build-info.json'), 'utf8')) as {tag?: unknown; commit?: unknown}
    if (typeof info.tag !== 'string') return null
    return typeof info.commit === 'string' && info.commit !== '' ? `${info.tag} (${info.commit.slice(0, 12)})` : info.tag
  } catch {
    return null
  }
}

export class LlamaCppEngine extends SpawnedServer {
  private capabilities: LlamaServerCapabilities | null = null
  private buildInfo: string | null = null
  private tokenPool: number[] | undefined
  private gpuLayers = 0
  /** Set after a SIGSEGV while loading: the retry runs without CPU weight repacking (see start). */
  private noRepack = false

  constructor(readonly options: LlamaCppEngineOptions) {
    const positive = (value: number, what: string, suggestion: string) => {
      if (!Number.isInteger(value) || value < 1) throw invalidInput(`${what} must be a whole number >= 1, got ${value}.`, suggestion)
    }
    positive(options.maxConcurrency, 'The highest concurrency (llama-server -np)', 'Pass e.g. --concurrency 1,4.')
    positive(options.tokensPerSequence, 'Tokens per request', 'Check --input-tokens and --output-tokens.')
    if (options.threads !== null) positive(options.threads, '--threads', 'Pass e.g. --threads 2.')
    if (options.gpuLayers !== undefined && (!Number.isInteger(options.gpuLayers) || options.gpuLayers < 0)) {
      throw invalidInput(`-ngl must be a whole number >= 0, got ${options.gpuLayers}.`, 'Pass e.g. 99 (all layers) or 0 (CPU).')
    }
    super(
      {
        kind: 'llamacpp',
        name: 'llama-server',
        bin: 'llama-server',
        startupTimeoutMs: 600_000, // a 70B model loads for minutes
        healthPollMs: 150, // 503 while loading
        stopGraceMs: 5000,
        portTaken: /couldn't bind|address already in use/i,
        exitedAdvice: '; check the model file (-m) and the flags.',
        startupAdvice: ' for a large model',
      },
      options,
    )
  }

  private get contextSize(): number {
    return this.options.maxConcurrency * this.options.tokensPerSequence
  }

  private get protocol(): WireProtocol {
    return this.options.api === 'v1-completions' ? 'openai-completions' : 'llamacpp-completion'
  }

  async start(): Promise<void> {
    const bin = this.options.serverBin ?? (await findLlamaCppTool('llama-server'))
    if (bin === null) {
      throw notFound(
        "No llama-server binary found ($CAPPLAN_LLAMA_BIN_DIR, capplan's own build, PATH).",
        'Build one offline with `capplan engine build`, or pass --server-bin /path/to/llama-server.',
      )
    }
    const caps = await probeLlamaServer(bin)
    this.capabilities = caps
    this.buildInfo = await capplanBuildOf(bin)
    this.gpuLayers = this.options.gpuLayers ?? (caps.devices.length > 0 ? 99 : 0)
    // Read before the server starts: a missing key file is the user's error, not the server's.
    this.apiKey = serverApiKey(this.options.extraArgs ?? [])
    this.noRepack = false
    await this.launch(bin)
    await this.readProps()
  }

  protected serverArgs(port: number): string[] {
    return llamaServerArgs({
      modelPath: this.options.modelPath,
      host: this.bindHost,
      port,
      contextSize: this.contextSize,
      slots: this.options.maxConcurrency,
      threads: this.options.threads,
      gpuLayers: this.gpuLayers,
      flashAttention: this.options.flashAttention ?? 'auto',
      capabilities: this.capabilities!,
      extraArgs: this.options.extraArgs ?? [],
      noRepack: this.noRepack,
    })
  }

  /**
   * A -march=native build's AMX kernels (CPU weight repacking) crash with SIGSEGV in the first decode where
   * the OS/hypervisor does not grant AMX tile state (seen on this project's CI VM). Retry once without
   * repacking, say so, and record the flag in the args; a user's own repack flag is respected.
   */
  protected override retryAfterExit(exit: ExitStatus | null): boolean {
    if (exit?.signal !== 'SIGSEGV' || this.capabilities?.noRepack !== true || this.noRepack) return false
    if ((this.options.extraArgs ?? []).some((arg) => /^(--repack|-nr|--no-repack)$/.test(arg))) return false
    this.noRepack = true
    this.options.onNote?.(`llama-server crashed (SIGSEGV) while loading; retrying with --no-repack (CPU weight repacking / AMX kernels off). Log: ${this.logFile}`)
    return true
  }

  private props: {buildInfo: string | null; totalSlots: number | null; slotContext: number | null} = {
    buildInfo: null,
    totalSlots: null,
    slotContext: null,
  }

  private async readProps(): Promise<void> {
    try {
      const response = await fetch(`${this.endpoint}/props`, {headers: this.requestHeaders(), signal: AbortSignal.timeout(10_000)})
      const props = (await response.json()) as {
        build_info?: unknown
        total_slots?: unknown
        default_generation_settings?: {n_ctx?: unknown}
      }
      this.props = {
        buildInfo: typeof props.build_info === 'string' ? props.build_info : null,
        totalSlots: typeof props.total_slots === 'number' ? props.total_slots : null,
        slotContext: typeof props.default_generation_settings?.n_ctx === 'number' ? props.default_generation_settings.n_ctx : null,
      }
    } catch {
      // /props is informative only (older builds lack some fields)
    }
    if (this.props.totalSlots !== null && this.props.totalSlots !== this.options.maxConcurrency) {
      throw await this.abandon(
        `llama-server started ${this.props.totalSlots} slot(s) instead of the ${this.options.maxConcurrency} asked for (-np).`,
        'Remove any -np / --parallel from the extra engine arguments, or use a llama-server that honours -np.',
      )
    }
  }

  info(): EngineInfo {
    if (this.capabilities === null || this.endpoint === null) throw this.usedBeforeStart()
    const gpuLayers = Number(this.args[this.args.indexOf('-ngl') + 1] ?? 0)
    return {
      kind: 'llamacpp',
      version: this.capabilities.version,
      // capplan's own build knows its llama.cpp tag and commit; /props build_info otherwise ("b6845-abc").
      build: this.buildInfo ?? this.props.buildInfo,
      backend: backendOf(this.capabilities.devices),
      threads: this.options.threads,
      // llama-server splits layers over every visible device by default (-sm layer).
      gpuCount: gpuLayers > 0 ? this.capabilities.devices.length : 0,
      args: this.commandLine(),
      endpoint: this.endpoint,
    }
  }

  /** Context tokens per slot as the server reports it (/props n_ctx), null if unknown. */
  slotContext(): number | null {
    return this.props.slotContext
  }

  async tokenize(text: string): Promise<number[]> {
    const response = await fetch(`${this.endpoint}/tokenize`, {
      method: 'POST',
      headers: {'content-type': 'application/json', ...this.requestHeaders()},
      body: JSON.stringify({content: text, add_special: false}),
    })
    const body = (await response.json()) as {tokens?: unknown}
    if (!Array.isArray(body.tokens)) {
      throw new EngineError(`POST /tokenize answered HTTP ${response.status} without tokens.`, 'Check the llama-server log.', 'POST /tokenize')
    }
    return body.tokens.map((t) => (typeof t === 'number' ? t : Number((t as {id?: unknown}).id)))
  }

  /**
   * Ordinary vocabulary entries (tokenizer.ggml.token_type == 1: not control, byte, unused, unknown or
   * user-defined), minus BOS/EOS, read from the GGUF header of the model file itself.
   */
  async promptTokenPool(): Promise<number[]> {
    if (this.tokenPool !== undefined) return this.tokenPool
    const header = await readGgufHeader(this.options.modelPath)
    const types = header.metadata.get('tokenizer.ggml.token_type')
    const special = new Set(
      ['tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'tokenizer.ggml.eot_token_id', 'tokenizer.ggml.padding_token_id']
        .map((key) => header.metadata.get(key))
        .filter((value): value is number => typeof value === 'number'),
    )
    const pool: number[] = []
    if (Array.isArray(types)) {
      types.forEach((type, id) => {
        if (Number(type) === 1 && !special.has(id)) pool.push(id)
      })
    }
    this.tokenPool = pool
    return pool
  }

  stream(request: GenRequest, signal: AbortSignal): AsyncGenerator<StreamEvent> {
    return this.serverStream(this.protocol, requestBody(this.protocol, request, {model: 'capplan'}), signal, this.options.onServerTimings)
  }
}
