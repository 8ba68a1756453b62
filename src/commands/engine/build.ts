import {integerFlag} from '../../cli/flags/custom.js'
import {Args, Flags} from '@oclif/core'

import {CapplanCommand} from '../../cli/base-command.js'
import {buildEngineTools, ENGINE_BUILD_TARGETS, type EngineBuildPayload, renderEngineBuild} from '../../services/engine/build.js'

export type {EngineBuildPayload} from '../../services/engine/build.js'

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
      options: [...ENGINE_BUILD_TARGETS],
      default: 'all',
    }),
  }

  static override flags = {
    cuda: Flags.option({
      description: 'CUDA backend: auto = when nvcc and an NVIDIA GPU are both present.',
      options: ['auto', 'on', 'off'] as const,
      default: 'auto',
    })(),
    jobs: integerFlag({
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
    const {cuda, jobs, native} = this.flags
    const payload = await buildEngineTools({tool: this.args.tool, cuda, jobs, native}, (line) => this.info(line))
    if (!this.jsonEnabled()) for (const line of renderEngineBuild(payload)) this.log(line)
    return payload
  }
}
