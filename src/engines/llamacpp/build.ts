import {constants as fsConstants} from 'node:fs'
import {access, appendFile, mkdir, readFile, rename, rm, stat} from 'node:fs/promises'
import {availableParallelism} from 'node:os'
import {delimiter, dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {z} from 'zod'

import {capplanCacheDir} from '../../lib/cache.js'
import {EngineError, notFound} from '../../lib/errors.js'
import {fileWriteError, writeOutputFile} from '../../lib/safe-write.js'

/** execa on first use: report and import reach this module (findLlamaCppTool) and should not pay its ~90 ms load. */
const loadExeca = () => import('execa')

/** The llama.cpp programs capplan builds and runs. */
export const LLAMA_CPP_TOOLS = ['llama-server', 'llama-bench', 'llama-quantize'] as const
export type LlamaCppTool = (typeof LLAMA_CPP_TOOLS)[number]

export type CudaMode = 'auto' | 'on' | 'off'
export type LlamaCppBackend = 'cpu' | 'cuda'

export interface BundledLlamaCppSource {
  /** node-llama-cpp's git bundle of the llama.cpp source it was built from. */
  bundlePath: string
  /** The release tag node-llama-cpp records for that source (llama/llama.cpp.info.json). */
  tag: string
}

export interface BuildLlamaCppOptions {
  targets?: readonly LlamaCppTool[]
  cuda?: CudaMode
  /** Parallel compile jobs; defaults to the CPUs available to this process. */
  jobs?: number
  /** -march=native (GGML_NATIVE, llama.cpp's default). false = a portable build, kept in its own directory. */
  native?: boolean
  /** CUDA only: compile for these compute capabilities (e.g. "90"), for a GPU that is not here (`capplan pack`). */
  cudaArchitectures?: string
  /** Every line the build prints (also appended to build.log beside the build). */
  onLog?: (line: string) => void
  /** Progress milestones ("cloning", "configuring", ...) for a person watching. */
  onStep?: (step: string) => void
}

export const buildInfoSchema = z.object({
  tag: z.string(),
  commit: z.string(),
  backend: z.enum(['cpu', 'cuda']),
  native: z.boolean(),
  targets: z.array(z.enum(LLAMA_CPP_TOOLS)),
  cmakeFlags: z.array(z.string()),
  builtAt: z.string(),
  durationSeconds: z.number(),
})
export type LlamaCppBuildInfo = z.infer<typeof buildInfoSchema>

export interface BuildLlamaCppResult {
  backend: LlamaCppBackend
  buildDir: string
  binDir: string
  logFile: string
  /** Absolute path of every requested tool. */
  tools: Partial<Record<LlamaCppTool, string>>
  /** true when every tool was already there and nothing ran. */
  alreadyBuilt: boolean
  info: LlamaCppBuildInfo
}

const exe = (name: string): string => (process.platform === 'win32' ? `${name}.exe` : name)

/** The llama.cpp source node-llama-cpp ships: its git bundle and tag. */
export async function bundledLlamaCppSource(): Promise<BundledLlamaCppSource> {
  // node-llama-cpp's "exports" hide package.json, so walk up from its entry point to the package root.
  let dir = dirname(fileURLToPath(import.meta.resolve('node-llama-cpp')))
  for (;;) {
    const infoPath = join(dir, 'llama', 'llama.cpp.info.json')
    if (await isFile(infoPath)) {
      const info = z.object({tag: z.string().min(1)}).parse(JSON.parse(await readFile(infoPath, 'utf8')))
      return {bundlePath: join(dir, 'llama', 'gitRelease.bundle'), tag: info.tag}
    }
    const parent = dirname(dir)
    if (parent === dir) {
      throw notFound(
        'node-llama-cpp ships no llama.cpp source here (llama/llama.cpp.info.json not found).',
        'Reinstall dependencies with `npm ci`, or point CAPPLAN_LLAMA_BIN_DIR at existing llama.cpp binaries.',
      )
    }
    dir = parent
  }
}

/** Directory of capplan's llama.cpp build for a backend: <cache>/llama.cpp/<tag>-<backend>[-portable]. */
export function llamaCppBuildDir(tag: string, backend: LlamaCppBackend = 'cpu', native = true): string {
  return join(capplanCacheDir(), 'llama.cpp', `${tag}-${backend}${native ? '' : '-portable'}`)
}

/**
 * Which backend to build. `auto` builds CUDA only when nvcc exists AND a GPU is visible: a CUDA build
 * takes hours on a small CPU-only machine (CI images often ship nvcc without a GPU) and would be unusable.
 */
export function chooseBackend(mode: CudaMode, env: {nvccFound: boolean; nvidiaGpuCount: number}): LlamaCppBackend {
  if (mode === 'off') return 'cpu'
  if (mode === 'on') {
    if (!env.nvccFound) {
      throw notFound(
        '--cuda on was given but nvcc (the CUDA compiler) is not on PATH.',
        'Install the CUDA toolkit and put its bin/ on PATH, or use --cuda auto|off for a CPU build.',
      )
    }
    return 'cuda'
  }
  return env.nvccFound && env.nvidiaGpuCount > 0 ? 'cuda' : 'cpu'
}

/**
 * -march=native on an AMX CPU (Sapphire Rapids and later) compiles ggml's AMX matmul, and that build
 * segfaults in ggml_backend_amx_mul_mat on every prompt batch (> 1 token) here (gcc 12, llama.cpp v0.5.0
 * bundle; upstream ggml-org/llama.cpp#20824). Explicit -mno-* flags win over -march whatever their order.
 * Decode kernels keep AVX-512/VNNI; only the AMX tile path is left out.
 */
export const AMX_OFF_FLAGS = '-mno-amx-tile -mno-amx-int8 -mno-amx-bf16'

/** Whether a native build on this host needs AMX_OFF_FLAGS: x86-64 with a GCC/Clang-style compiler. */
export const needsAmxOff = (arch: string = process.arch, platform: string = process.platform): boolean => arch === 'x64' && platform !== 'win32'

/** cmake configure arguments. Offline by construction: no curl, no OpenSSL, no downloaded web UI. */
export function cmakeConfigureArgs(opts: {
  sourceDir: string
  buildDir: string
  backend: LlamaCppBackend
  native: boolean
  ninja: boolean
  /** CUDA only: a GPU is visible, so compile for it alone (minutes instead of hours). */
  cudaNativeArch?: boolean
  /** CUDA only: these compute capabilities instead (wins over cudaNativeArch). */
  cudaArchitectures?: string
  /** x86-64 native builds: compile without AMX (see AMX_OFF_FLAGS). */
  disableAmx?: boolean
}): {args: string[]; flags: string[]} {
  const flags = [
    '-DCMAKE_BUILD_TYPE=Release',
    '-DBUILD_SHARED_LIBS=OFF',
    '-DLLAMA_BUILD_TESTS=OFF',
    '-DLLAMA_BUILD_EXAMPLES=OFF',
    '-DLLAMA_BUILD_TOOLS=ON',
    '-DLLAMA_BUILD_SERVER=ON',
    '-DLLAMA_CURL=OFF',
    '-DLLAMA_OPENSSL=OFF',
    '-DLLAMA_BUILD_UI=OFF',
    '-DLLAMA_USE_PREBUILT_UI=OFF',
    `-DGGML_NATIVE=${opts.native ? 'ON' : 'OFF'}`,
    `-DGGML_CUDA=${opts.backend === 'cuda' ? 'ON' : 'OFF'}`,
  ]
  if (opts.backend === 'cuda' && opts.cudaArchitectures !== undefined) flags.push(`-DCMAKE_CUDA_ARCHITECTURES=${opts.cudaArchitectures}`)
  else if (opts.backend === 'cuda' && opts.cudaNativeArch) flags.push('-DCMAKE_CUDA_ARCHITECTURES=native')
  if (opts.native && opts.disableAmx) flags.push(`-DCMAKE_C_FLAGS=${AMX_OFF_FLAGS}`, `-DCMAKE_CXX_FLAGS=${AMX_OFF_FLAGS}`)
  const generator = opts.ninja ? ['-G', 'Ninja'] : []
  return {args: ['-S', opts.sourceDir, '-B', opts.buildDir, ...generator, ...flags], flags}
}

/**
 * Build llama.cpp tools offline from node-llama-cpp's bundled source into capplan's cache directory.
 * Idempotent: when every requested tool is present and build-info.json lists it, it returns without running
 * anything (no git, no cmake).
 */
export async function buildLlamaCppTools(options: BuildLlamaCppOptions = {}): Promise<BuildLlamaCppResult> {
  const targets = [...new Set(options.targets ?? LLAMA_CPP_TOOLS)]
  const native = options.native ?? true
  const jobs = options.jobs ?? availableParallelism()
  const source = await bundledLlamaCppSource()

  const nvcc = await findOnPath('nvcc')
  const backend = chooseBackend(options.cuda ?? 'auto', {
    nvccFound: nvcc !== null,
    nvidiaGpuCount: nvcc === null ? 0 : await countNvidiaGpus(),
  })
  const buildDir = llamaCppBuildDir(source.tag, backend, native)
  const paths = buildPaths(buildDir)

  const gpuCount = backend === 'cuda' ? await countNvidiaGpus() : 0
  const {args, flags} = cmakeConfigureArgs({
    sourceDir: paths.sourceDir,
    buildDir: paths.cmakeDir,
    backend,
    native,
    ninja: (await findOnPath('ninja')) !== null,
    cudaNativeArch: gpuCount > 0,
    ...(options.cudaArchitectures === undefined ? {} : {cudaArchitectures: options.cudaArchitectures}),
    disableAmx: needsAmxOff(),
  })

  const existing = await readBuildInfo(paths.infoFile)
  const present = await Promise.all(targets.map(async (t) => isExecutable(join(paths.binDir, exe(t)))))
  // build-info.json is written last, so it listing a target means that target's build finished; a build
  // made with other cmake flags (an older capplan) is rebuilt.
  const sameFlags = existing !== null && existing.cmakeFlags.join('\n') === flags.join('\n')
  if (existing !== null && sameFlags && present.every(Boolean) && targets.every((t) => existing.targets.includes(t))) {
    return {
      backend,
      buildDir,
      binDir: paths.binDir,
      logFile: paths.logFile,
      tools: toolPaths(paths.binDir, targets),
      alreadyBuilt: true,
      info: existing,
    }
  }

  await mkdir(buildDir, {recursive: true})
  const releaseLock = await acquireLock(paths.lockDir)
  const started = Date.now()
  try {
    await appendLog(paths.logFile, `\n=== capplan engine build ${new Date().toISOString()} (${targets.join(', ')}) ===\n`)
    const run = (command: string, args: string[], cwd?: string) => runLogged(command, args, {cwd, logFile: paths.logFile, onLog: options.onLog})

    if (!(await isFile(join(paths.sourceDir, 'CMakeLists.txt')))) {
      await requireTool('git')
      options.onStep?.(`Extracting llama.cpp ${source.tag} from node-llama-cpp's bundle`)
      // Clone beside the final place and rename, so an interrupted clone never looks like a source tree.
      const partial = `${paths.sourceDir}.partial-${process.pid}`
      await rm(partial, {recursive: true, force: true})
      await run('git', ['clone', '--quiet', '--no-checkout', source.bundlePath, partial])
      // The bundle holds one commit (HEAD); check out the tag when the bundle carries it, else that commit.
      const {execa} = await loadExeca()
      const tags = await execa('git', ['-C', partial, 'tag', '--list', source.tag], {reject: false})
      await run('git', ['-C', partial, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', tags.stdout.trim() === source.tag ? source.tag : 'HEAD'])
      await rm(paths.sourceDir, {recursive: true, force: true})
      await rename(partial, paths.sourceDir)
    }
    const {execa} = await loadExeca()
    const commit = (await execa('git', ['-C', paths.sourceDir, 'rev-parse', 'HEAD'], {reject: false})).stdout.trim()

    await requireTool('cmake')
    options.onStep?.(`Configuring (${backend}${native ? ', -march=native' : ', portable'})`)
    await run('cmake', args)
    options.onStep?.(`Compiling ${targets.join(', ')} with ${jobs} job(s); log: ${paths.logFile}`)
    await run('cmake', ['--build', paths.cmakeDir, '--config', 'Release', '--target', ...targets, '-j', String(jobs)])

    for (const t of targets) {
      if (!(await isExecutable(join(paths.binDir, exe(t))))) {
        throw new EngineError(
          `The build finished but ${join(paths.binDir, exe(t))} is missing.`,
          `Read ${paths.logFile}; delete ${buildDir} and run \`capplan engine build\` again.`,
          'cmake --build',
          await logTail(paths.logFile),
        )
      }
    }
    // Targets built earlier with the same flags are still valid (the tree was only extended).
    const builtTargets = [...new Set([...(sameFlags ? (existing?.targets ?? []) : []), ...targets])]
    const info: LlamaCppBuildInfo = {
      tag: source.tag,
      commit,
      backend,
      native,
      targets: LLAMA_CPP_TOOLS.filter((t) => builtTargets.includes(t)),
      cmakeFlags: flags,
      builtAt: new Date().toISOString(),
      durationSeconds: Math.round((Date.now() - started) / 1000),
    }
    await writeOutputFile(paths.infoFile, `${JSON.stringify(info, null, 2)}\n`, {what: 'the build info file'})
    return {backend, buildDir, binDir: paths.binDir, logFile: paths.logFile, tools: toolPaths(paths.binDir, targets), alreadyBuilt: false, info}
  } finally {
    await releaseLock()
  }
}

/**
 * Where a llama.cpp tool is: $CAPPLAN_LLAMA_BIN_DIR first (an explicit choice), then capplan's own builds
 * (CUDA before CPU, native before portable), then PATH. null when none has it.
 */
export async function findLlamaCppTool(name: LlamaCppTool): Promise<string | null> {
  const override = process.env.CAPPLAN_LLAMA_BIN_DIR
  if (override !== undefined && override !== '') {
    const candidate = join(override, exe(name))
    if (await isExecutable(candidate)) return candidate
  }
  let tag: string | null = null
  try {
    tag = (await bundledLlamaCppSource()).tag
  } catch {
    tag = null // no bundled source: only the override and PATH can provide the tool
  }
  if (tag !== null) {
    for (const [backend, native] of [
      ['cuda', true],
      ['cpu', true],
      ['cuda', false],
      ['cpu', false],
    ] as const) {
      const candidate = join(buildPaths(llamaCppBuildDir(tag, backend, native)).binDir, exe(name))
      if (await isExecutable(candidate)) return candidate
    }
  }
  return findOnPath(name)
}

interface BuildPaths {
  sourceDir: string
  cmakeDir: string
  binDir: string
  logFile: string
  infoFile: string
  lockDir: string
}

function buildPaths(buildDir: string): BuildPaths {
  return {
    sourceDir: join(buildDir, 'src'),
    cmakeDir: join(buildDir, 'build'),
    binDir: join(buildDir, 'build', 'bin'),
    logFile: join(buildDir, 'build.log'),
    infoFile: join(buildDir, 'build-info.json'),
    lockDir: join(buildDir, 'build.lock'),
  }
}

function toolPaths(binDir: string, targets: readonly LlamaCppTool[]): Partial<Record<LlamaCppTool, string>> {
  return Object.fromEntries(targets.map((t) => [t, join(binDir, exe(t))]))
}

async function readBuildInfo(file: string): Promise<LlamaCppBuildInfo | null> {
  try {
    const parsed = buildInfoSchema.safeParse(JSON.parse(await readFile(file, 'utf8')))
    return parsed.success ? parsed.data : null
  } catch {
    return null // absent or unreadable: treated as "not built", the build rewrites it
  }
}

/** Append to the build log; a full disk (exit 7) or an unwritable cache dir (exit 3) is one error naming the log. */
async function appendLog(logFile: string, text: string): Promise<void> {
  try {
    await appendFile(logFile, text)
  } catch (error) {
    throw fileWriteError(error, logFile)
  }
}

/** A run that streams every output line to the log file and onLog; a non-zero exit becomes an EngineError. */
async function runLogged(command: string, args: string[], opts: {cwd?: string; logFile: string; onLog?: (line: string) => void}): Promise<void> {
  const display = [command, ...args].join(' ')
  await appendLog(opts.logFile, `$ ${display}\n`)
  const {execa} = await loadExeca()
  const subprocess = execa(command, args, {cwd: opts.cwd, all: true, buffer: false, reject: false, stdin: 'ignore'})
  const tail: string[] = []
  let pending = Promise.resolve()
  for await (const line of subprocess.iterable({from: 'all'})) {
    tail.push(line)
    if (tail.length > 30) tail.shift()
    opts.onLog?.(line)
    pending = pending.then(() => appendLog(opts.logFile, `${line}\n`))
  }
  const result = await subprocess
  await pending
  if (result.exitCode !== 0 || result.failed) {
    const why = result.exitCode === undefined ? (result.signal ?? 'failed to start') : `exit code ${result.exitCode}`
    throw new EngineError(
      `Building llama.cpp failed: \`${command} ${args[0] ?? ''}\` ended with ${why}.`,
      `Read the full log at ${opts.logFile}. Check that cmake, a C++17 compiler${args.includes('-DGGML_CUDA=ON') ? ' and the CUDA toolkit' : ''} are installed, or run with --cuda off.`,
      display,
      tail.slice(-15),
    )
  }
}

async function logTail(file: string, lines = 15): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines)
  } catch {
    return []
  }
}

/** A lock directory (mkdir is atomic) so two capplan processes never compile into the same tree at once. */
async function acquireLock(lockDir: string): Promise<() => Promise<void>> {
  const ownerFile = join(lockDir, 'pid')
  try {
    await mkdir(lockDir)
  } catch {
    const owner = Number.parseInt(await readFile(ownerFile, 'utf8').catch(() => ''), 10)
    if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
      throw new EngineError(
        `Another capplan process (pid ${owner}) is building llama.cpp in ${dirname(lockDir)}.`,
        'Wait for it to finish, then run the command again.',
        'capplan engine build',
      )
    }
    // The owner died mid-build: the lock is stale, take it over.
  }
  await mkdir(lockDir, {recursive: true})
  await writeOutputFile(ownerFile, String(process.pid), {what: 'the build lock file'})
  return async () => rm(lockDir, {recursive: true, force: true})
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function requireTool(name: string): Promise<void> {
  if ((await findOnPath(name)) === null) {
    throw notFound(
      `${name} is not on PATH; it is needed to build llama.cpp offline.`,
      `Install ${name} (Debian/Ubuntu: apt-get install ${name === 'git' ? 'git' : 'cmake g++'}), or point CAPPLAN_LLAMA_BIN_DIR at existing llama.cpp binaries.`,
    )
  }
}

async function countNvidiaGpus(): Promise<number> {
  const {execa} = await loadExeca()
  const smi = await execa('nvidia-smi', ['-L'], {reject: false, timeout: 10_000})
  if (smi.exitCode !== 0) return 0
  return smi.stdout.split('\n').filter((line) => line.startsWith('GPU ')).length
}

/** First executable named `name` on PATH, or null. */
export async function findOnPath(name: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, exe(name))
    if (await isExecutable(candidate)) return candidate
  }
  return null
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch {
    return false
  }
}

async function isExecutable(path: string): Promise<boolean> {
  if (!(await isFile(path))) return false
  try {
    await access(path, fsConstants.X_OK)
    return true
  } catch {
    return false
  }
}
