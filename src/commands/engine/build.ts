import {availableParallelism} from 'node:os'

import {Args, Flags} from '@oclif/core'

import {type LlamaCppTool, LLAMA_CPP_TOOLS, buildLlamaCppTools} from '../../engines/llamacpp/build.js'
import {CapplanCommand} from '../../cli/base-command.js'

export interface EngineBuildPayload {
  backend: 'cpu' | 'cuda'
  native: boolean
  alreadyBuilt: boolean
  buildDir: string
  logFile: string
  tag: string
  commit: string
  durationSeconds: number
  tools: Partial<Record<LlamaCppTool, string>>
}

export default class EngineBuild extends CapplanCommand<typeof EngineBuild> {
  static override summary = 'Build llama.cpp tools (llama-server, llama-bench, llama-quantize) offline.'

  static override description = `Compiles the llama.cpp source that node-llama-cpp ships (no download) with cmake into capplan's cache directory (override with CAPPLAN_CACHE_DIR), with CUDA when nvcc and an NVIDIA GPU are present. A second run with the tools already built returns at once. The llamacpp engine and llama-bench comparisons find this build by default; CAPPLAN_LLAMA_BIN_DIR points capplan at other binaries instead. Needs git, cmake and a C++17 compiler; the CPU build takes roughly 15-30 minutes on 2 cores.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> llama-bench --jobs 2',
    '<%= config.bin %> <%= command.id %> llama-server --cuda on',
    '<%= config.bin %> <%= command.id %> all --cuda off --no-native --json',
  ]

  static override args = {
    tool: Args.string({
      description: 'Which tool to build.',
      options: [...LLAMA_CPP_TOOLS, 'all'],
      default: 'all',
    }),
  }

  static override flags = {
    cuda: Flags.option({
      description: 'CUDA backend: auto = when nvcc and an NVIDIA GPU are both present.',
      options: ['auto', 'on', 'off'] as const,
      default: 'auto',
    })(),
    jobs: Flags.integer({
      char: 'j',
      description: 'Parallel compile jobs (default: the CPUs available).',
      min: 1,
    }),
    native: Flags.boolean({
      description: 'Compile for this CPU (-march=native). --no-native makes a portable build in its own directory.',
      default: true,
      allowNo: true,
    }),
  }

  async run(): Promise<EngineBuildPayload> {
    const tool = this.args.tool as LlamaCppTool | 'all'
    const targets: readonly LlamaCppTool[] = tool === 'all' ? LLAMA_CPP_TOOLS : [tool]
    const jobs = this.flags.jobs ?? availableParallelism()

    const result = await buildLlamaCppTools({
      targets,
      cuda: this.flags.cuda,
      jobs,
      native: this.flags.native,
      onStep: (step) => this.info(step),
      onLog: progressPrinter((line) => this.info(line)),
    })

    const payload: EngineBuildPayload = {
      backend: result.backend,
      native: result.info.native,
      alreadyBuilt: result.alreadyBuilt,
      buildDir: result.buildDir,
      logFile: result.logFile,
      tag: result.info.tag,
      commit: result.info.commit,
      durationSeconds: result.info.durationSeconds,
      tools: result.tools,
    }
    if (!this.jsonEnabled()) {
      this.log(
        result.alreadyBuilt
          ? `llama.cpp ${result.info.tag} (${result.backend}${result.info.native ? '' : ', portable'}) is already built in ${result.buildDir}:`
          : `Built llama.cpp ${result.info.tag} (${result.backend}${result.info.native ? '' : ', portable'}) in ${result.info.durationSeconds}s:`,
      )
      for (const [name, path] of Object.entries(result.tools)) this.log(`  ${name.padEnd(15)} ${path}`)
    }
    return payload
  }
}

/**
 * cmake prints hundreds of lines; show only ninja/make progress ("[37/212] ...") every few percent, so a
 * person sees the build moving without the full log (which is in build.log).
 */
function progressPrinter(print: (line: string) => void): (line: string) => void {
  let lastShownPercent = -1
  return (line) => {
    const match = /^\[\s*(\d+)\s*\/\s*(\d+)\]/.exec(line) ?? /^\[\s*(\d+)%\]/.exec(line)
    if (match === null) return
    const percent = match[2] === undefined ? Number(match[1]) : Math.floor((Number(match[1]) / Number(match[2])) * 100)
    if (percent >= lastShownPercent + 5 || percent === 100) {
      lastShownPercent = percent
      print(`  ${String(percent).padStart(3)}%  ${line.replace(/^\[[^\]]*\]\s*/, '').slice(0, 100)}`)
    }
  }
}
