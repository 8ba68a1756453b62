/**
 * `capplan pack`: write a self-contained folder (and a .tar.xz) that measures an offline Linux x86-64 host:
 * capplan as one bundled JS file (dist/bundle/capplan.mjs, `npm run build`), the profiles, llama.cpp (a
 * llama-server built here and/or the trimmed llama.cpp source that run.sh builds on the target), optionally
 * this Node.js, the plan with its schedule (schedule.ts) and kit/run.sh.
 */

import {chmod, copyFile, cp, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {basename, dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

import {AMX_OFF_FLAGS, buildLlamaCppTools, bundledLlamaCppSource, findLlamaCppTool, findOnPath, llamaCppBuildDir} from '../../engines/llamacpp/build.js'
import {estimateSyntheticFileBytes} from '../../gguf/synth.js'
import {EngineError, invalidInput, notFound} from '../../lib/errors.js'
import {builtinProfilesDir} from '../../profiles/files.js'
import {loadProfiles} from '../../profiles/load.js'
import {type PackPlan, readPackPlan} from './plan-file.js'
import {planSchedule, type Schedule, scheduleTsv} from './schedule.js'

const loadExeca = () => import('execa')

export interface PackChoices {
  planFile: string
  output: string
  /** Seconds; undefined = the plan's budgetSeconds. */
  budgetSeconds: number | undefined
  llama: 'binary' | 'source' | 'both'
  serverBin: string | undefined
  cuda: 'on' | 'off'
  cudaArch: number
  withNode: boolean
  archive: boolean
  profilesDir: string | undefined
}

export interface KitPart {
  part: string
  path: string
  bytes: number
}

export interface PackPayload {
  kit: string
  archive: string | null
  archiveBytes: number | null
  parts: KitPart[]
  totalBytes: number
  llama: {binary: string | null; backend: string | null; source: boolean; cudaArch: number}
  node: string | null
  plan: PackPlan
  schedule: Schedule
}

/**
 * What of llama.cpp's source tree the target's build does not need: history, docs, test models (75 MB),
 * examples/tests/benchmarks (off in run.sh's cmake flags), Python converters, and the ggml backends of
 * other vendors (ggml adds a backend's directory only when its GGML_<NAME> option is on).
 */
export const LLAMA_SOURCE_EXCLUDES = [
  'docs',
  'models',
  'media',
  'examples',
  'pocs',
  'tests',
  'benches',
  'gguf-py',
  'conversion',
  'scripts',
  '.github',
  '.devops',
  ...['cann', 'openvino', 'webgpu', 'et', 'metal', 'hexagon', 'sycl', 'vulkan', 'opencl', 'virtgpu'].map((b) => `ggml/src/ggml-${b}`),
] as const

export async function packKit(choices: PackChoices, info: (line: string) => void): Promise<PackPayload> {
  const plan = await readPackPlan(choices.planFile)
  const budgetSeconds = choices.budgetSeconds ?? plan.budgetSeconds
  if (budgetSeconds === undefined)
    throw invalidInput(
      `--plan ${choices.planFile} has no budgetSeconds and no --budget was given.`,
      'Give the run a time budget: --budget 8m, or budgetSeconds: 480 in the plan.',
    )
  const store = await loadProfiles({userDir: choices.profilesDir})
  const model = store.get('model', plan.model)
  if (plan.gpu !== undefined) store.get('gpu', plan.gpu)
  const modelBytes = plan.quants.map((q) => estimateSyntheticFileBytes(model, q))
  const schedule = planSchedule(plan, budgetSeconds)
  if (schedule.levelsThatFit < schedule.levels) {
    info(`By the estimate ${schedule.levelsThatFit} of ${schedule.levels} levels fit ${budgetSeconds}s; run.sh measures them most valuable first and skips the rest.`)
  }

  const kit = resolve(choices.output)
  if (await exists(kit)) throw invalidInput(`--output ${choices.output} already exists.`, 'Give a new folder (the kit is written whole), or remove that one.')
  const archive = choices.archive ? `${kit}.tar.xz` : null
  if (archive !== null && (await exists(archive))) throw invalidInput(`${archive} already exists.`, 'Remove it, choose another --output, or pass --no-archive.')
  if (choices.withNode && (process.platform !== 'linux' || process.arch !== 'x64')) {
    throw invalidInput(
      `--with-node packs this Node.js binary, which is ${process.platform}-${process.arch}; the kit is for linux-x64.`,
      'Run capplan pack on a Linux x86-64 machine, or leave --with-node out and install Node.js on the target.',
    )
  }
  const bundle = await findBundle()
  const runSh = fileURLToPath(new URL('../../../kit/run.sh', import.meta.url))
  if (!(await exists(runSh))) throw notFound(`kit/run.sh is not beside this capplan (${runSh}).`, 'Run capplan pack from an npm install or a checkout of capplan.')

  // llama.cpp: decide (and fail) before writing anything.
  let serverBin: string | null = null
  let backend: string | null = null
  if (choices.llama !== 'source') {
    if (choices.cuda === 'on') {
      if ((await findOnPath('nvcc')) === null) {
        throw notFound(
          `--cuda on: nvcc (the CUDA compiler) is not on PATH here, so no llama-server can be built with CUDA for sm_${choices.cudaArch}.`,
          'Install the CUDA toolkit here and put its bin/ on PATH, or pack with --llama source: run.sh then builds llama-server with CUDA on the GPU host (it needs nvcc and cmake there).',
        )
      }
      info(`Building llama-server with CUDA for sm_${choices.cudaArch} (capplan engine build --cuda on); this takes a while`)
      const built = await buildLlamaCppTools({targets: ['llama-server'], cuda: 'on', native: false, cudaArchitectures: String(choices.cudaArch), onStep: info})
      serverBin = built.tools['llama-server'] ?? null
      backend = 'cuda'
    } else {
      serverBin = choices.serverBin ?? (await findLlamaCppTool('llama-server'))
      if (serverBin === null) {
        throw notFound(
          'No llama-server to pack: capplan has not built one and none is on PATH.',
          'Run `capplan engine build llama-server --cuda off` first, give --server-bin PATH, or pack --llama source.',
        )
      }
      backend = await binaryBackend(serverBin)
    }
  }

  await mkdir(dirname(kit), {recursive: true})
  const staging = `${kit}.partial-${process.pid}`
  await rm(staging, {recursive: true, force: true})
  try {
    await mkdir(join(staging, 'capplan', 'bin'), {recursive: true})
    await copyFile(bundle, join(staging, 'capplan', 'bin', 'capplan.mjs'))
    const version = JSON.parse(await readFile(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as {version: string}
    await writeFile(join(staging, 'capplan', 'package.json'), `${JSON.stringify(kitPackageJson(version.version), null, 2)}\n`)
    await cp(builtinProfilesDir(), join(staging, 'profiles'), {recursive: true})
    if (choices.profilesDir !== undefined) await cp(choices.profilesDir, join(staging, 'profiles-extra'), {recursive: true})

    if (serverBin !== null) {
      info(`Packing llama-server (${backend ?? 'unknown'} build): ${serverBin}`)
      await mkdir(join(staging, 'llama.cpp', 'bin'), {recursive: true})
      await copyFile(serverBin, join(staging, 'llama.cpp', 'bin', 'llama-server'))
      await chmod(join(staging, 'llama.cpp', 'bin', 'llama-server'), 0o755)
    }
    if (choices.llama !== 'binary') {
      info('Packing the trimmed llama.cpp source (run.sh builds it when no working llama-server came along)')
      await writeTrimmedSource(join(staging, 'llama.cpp', 'src'))
    }
    let nodePath: string | null = null
    if (choices.withNode) {
      await mkdir(join(staging, 'node', 'bin'), {recursive: true})
      await copyFile(process.execPath, join(staging, 'node', 'bin', 'node'))
      await chmod(join(staging, 'node', 'bin', 'node'), 0o755)
      nodePath = process.execPath
    }

    await writeFile(join(staging, 'plan.json'), `${JSON.stringify({...plan, budgetSeconds}, null, 2)}\n`)
    await writeFile(join(staging, 'schedule.tsv'), scheduleTsv(schedule))
    await writeFile(
      join(staging, 'kit.env'),
      kitEnv({
        KIT_ID: basename(kit),
        MODEL: plan.model,
        QUANTS: plan.quants.join(','),
        LADDER: plan.concurrency.join(','),
        INPUT_TOKENS: String(plan.inputTokens),
        OUTPUT_TOKENS: String(plan.outputTokens),
        LEVEL_SECONDS: String(plan.levelSeconds),
        BUDGET_SECONDS: String(budgetSeconds),
        GPU_PROFILE: plan.gpu ?? '',
        SERVER_BACKEND: backend ?? 'none',
        CUDA_ARCH: String(choices.cudaArch),
        AMX_OFF_FLAGS,
        // Synthetic GGUFs of every quant, plus 1 GiB for logs and results.
        NEED_DISK_BYTES: String(modelBytes.reduce((a, b) => a + b, 0) + 2 ** 30),
        LARGEST_MODEL_BYTES: String(Math.max(...modelBytes)),
      }),
    )
    await copyFile(runSh, join(staging, 'run.sh'))
    await chmod(join(staging, 'run.sh'), 0o755)
    await copyFile(join(dirname(runSh), 'capplan.sh'), join(staging, 'capplan.sh'))
    await chmod(join(staging, 'capplan.sh'), 0o755)

    const parts = await measureParts(staging)
    await writeFile(
      join(staging, 'KIT.json'),
      `${JSON.stringify({capplan: version.version, createdAt: new Date().toISOString(), llama: {binary: serverBin !== null, backend, source: choices.llama !== 'binary', cudaArch: choices.cudaArch}, node: nodePath === null ? null : process.version, parts}, null, 2)}\n`,
    )
    await rmIfExists(kit)
    const {rename} = await import('node:fs/promises')
    await rename(staging, kit)
    const finalParts = parts.map((p) => ({...p, path: join(kit, p.path)}))
    let archiveBytes: number | null = null
    if (archive !== null) {
      info(`Compressing ${archive} (xz)`)
      const {execa} = await loadExeca()
      const tar = await execa('tar', ['-C', dirname(kit), '-cJf', archive, basename(kit)], {reject: false, env: {XZ_OPT: '-6 -T0'}})
      if (tar.exitCode !== 0)
        throw new EngineError(
          `tar could not write ${archive}.`,
          'Check tar and xz are installed and the disk has room, or pass --no-archive.',
          'tar -cJf',
          tar.stderr.split('\n').slice(-5),
        )
      archiveBytes = (await stat(archive)).size
    }
    return {
      kit,
      archive,
      archiveBytes,
      parts: finalParts,
      totalBytes: parts.reduce((sum, p) => sum + p.bytes, 0),
      llama: {binary: serverBin, backend, source: choices.llama !== 'binary', cudaArch: choices.cudaArch},
      node: nodePath,
      plan,
      schedule,
    }
  } catch (error) {
    await rm(staging, {recursive: true, force: true})
    throw error
  }
}

/** The kit's capplan/package.json: oclif finds the commands in the bundle's COMMANDS export (no manifest, no dist/). */
export function kitPackageJson(version: string): object {
  return {
    name: 'capplan',
    version,
    type: 'module',
    private: true,
    oclif: {bin: 'capplan', dirname: 'capplan', topicSeparator: ' ', commands: {strategy: 'explicit', target: './bin/capplan.mjs', identifier: 'COMMANDS'}},
  }
}

/** kit.env: shell assignments, each value single-quoted (a quote inside closes, escapes and reopens). */
export function kitEnv(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([key, value]) => `${key}='${value.replaceAll("'", "'\\''")}'\n`)
    .join('')
}

/** Bytes of each top-level part of the kit (run.sh and the small files together as "scripts and plan"). */
async function measureParts(dir: string): Promise<KitPart[]> {
  const named: Array<[string, string]> = [
    ['capplan (bundled JS)', 'capplan'],
    ['profiles', 'profiles'],
    ['extra profiles', 'profiles-extra'],
    ['llama-server binary', 'llama.cpp/bin'],
    ['llama.cpp source', 'llama.cpp/src'],
    ['Node.js', 'node'],
  ]
  const parts: KitPart[] = []
  for (const [part, path] of named) if (await exists(join(dir, path))) parts.push({part, path, bytes: await treeBytes(join(dir, path))})
  let small = 0
  for (const name of await readdir(dir)) {
    const s = await lstat(join(dir, name))
    if (s.isFile()) small += s.size
  }
  parts.push({part: 'run.sh, plan, schedule, kit.env', path: '.', bytes: small})
  return parts
}

async function treeBytes(path: string): Promise<number> {
  const s = await lstat(path)
  if (!s.isDirectory()) return s.size
  let total = 0
  for (const name of await readdir(path)) total += await treeBytes(join(path, name))
  return total
}

/** dist/bundle/capplan.mjs beside this module (npm run build writes it). */
async function findBundle(): Promise<string> {
  const bundle = fileURLToPath(new URL('../../bundle/capplan.mjs', import.meta.url))
  if (await exists(bundle)) return bundle
  throw notFound(`The bundled capplan (${bundle}) is missing.`, "Run `npm run build` in capplan's checkout (it writes dist/bundle/capplan.mjs), then pack again.")
}

/** The backend a capplan build recorded beside the binary (<build>/build/bin/llama-server -> <build>/build-info.json), else 'unknown'. */
async function binaryBackend(serverBin: string): Promise<string> {
  try {
    const info = JSON.parse(await readFile(join(dirname(serverBin), '..', '..', 'build-info.json'), 'utf8')) as {backend?: string}
    return info.backend ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

/**
 * The llama.cpp source node-llama-cpp ships, less LLAMA_SOURCE_EXCLUDES, as files (git archive of its one
 * commit: from capplan's already extracted tree when there is one, else from the git bundle).
 */
async function writeTrimmedSource(target: string): Promise<void> {
  const {execa} = await loadExeca()
  if ((await findOnPath('git')) === null)
    throw notFound("git is not on PATH; it is needed to take the llama.cpp source out of node-llama-cpp's bundle.", 'Install git, or pack --llama binary.')
  const source = await bundledLlamaCppSource()
  let repo: string | null = null
  for (const dir of [
    llamaCppBuildDir(source.tag, 'cpu', true),
    llamaCppBuildDir(source.tag, 'cuda', true),
    llamaCppBuildDir(source.tag, 'cpu', false),
    llamaCppBuildDir(source.tag, 'cuda', false),
  ]) {
    if (await exists(join(dir, 'src', '.git'))) {
      repo = join(dir, 'src')
      break
    }
  }
  const scratch = await mkdtemp(join(tmpdir(), 'capplan-pack-'))
  try {
    if (repo === null) {
      repo = join(scratch, 'llama.cpp')
      const clone = await execa('git', ['clone', '--quiet', '--no-checkout', source.bundlePath, repo], {reject: false})
      if (clone.exitCode !== 0)
        throw new EngineError(
          `git could not read ${source.bundlePath}.`,
          'Reinstall dependencies (npm ci), or pack --llama binary.',
          'git clone',
          clone.stderr.split('\n').slice(-5),
        )
    }
    const tarFile = join(scratch, 'src.tar')
    const pathspecs = ['.', ...LLAMA_SOURCE_EXCLUDES.map((p) => `:(exclude)${p}`)]
    const archived = await execa('git', ['-C', repo, 'archive', '--format=tar', '-o', tarFile, 'HEAD', '--', ...pathspecs], {reject: false})
    if (archived.exitCode !== 0)
      throw new EngineError(
        `git archive failed in ${repo}.`,
        'Delete that directory and run `capplan engine build` again, or pack --llama binary.',
        'git archive',
        archived.stderr.split('\n').slice(-5),
      )
    await mkdir(target, {recursive: true})
    const untar = await execa('tar', ['-xf', tarFile, '-C', target], {reject: false})
    if (untar.exitCode !== 0)
      throw new EngineError(`tar could not unpack the llama.cpp source into ${target}.`, 'Check the disk has room.', 'tar -xf', untar.stderr.split('\n').slice(-5))
  } finally {
    await rm(scratch, {recursive: true, force: true})
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch {
    return false
  }
}

async function rmIfExists(path: string): Promise<void> {
  if (await exists(path)) await rm(path, {recursive: true, force: true})
}

/** One line per part, then the archive, then what run.sh will measure. */
export function renderPack(payload: PackPayload): string[] {
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`
  const lines = [`Kit written to ${payload.kit}:`]
  for (const part of payload.parts) lines.push(`  ${part.part.padEnd(34)} ${mib(part.bytes).padStart(10)}`)
  lines.push(`  ${'total (uncompressed)'.padEnd(34)} ${mib(payload.totalBytes).padStart(10)}`)
  if (payload.archive !== null && payload.archiveBytes !== null) lines.push(`Archive: ${payload.archive} (${mib(payload.archiveBytes)}, xz)`)
  const s = payload.schedule
  lines.push(
    `Plan: ${payload.plan.model} ${payload.plan.quants.join(', ')} at concurrency ${payload.plan.concurrency.join(', ')}; ${s.steps.length} steps, ${s.levelsThatFit} of ${s.levels} levels fit ${s.budgetSeconds}s by the estimate.`,
  )
  for (const step of s.steps)
    lines.push(
      `  ${String(step.step).padStart(2)}. ${step.quant} c=${step.concurrency.join(',')}  ~${step.estimateSeconds}s (ends ~${step.endsAtSeconds}s)${step.fits ? '' : '  over budget'}`,
    )
  lines.push(`On the target: tar -xJf ${payload.archive === null ? `${basename(payload.kit)}.tar.xz` : basename(payload.archive)} && ./${basename(payload.kit)}/run.sh`)
  return lines
}
