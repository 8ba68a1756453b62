import {CapplanCommand} from '../cli/base-command.js'
import {packFlags} from '../cli/flags/pack.js'
import {packKit, type PackPayload, renderPack} from '../services/pack/pack.js'

export type {PackPayload} from '../services/pack/pack.js'

export default class Pack extends CapplanCommand<typeof Pack> {
  static override summary = 'Write an offline kit (folder + .tar.xz) that measures a Linux x86-64 GPU host with no network.'

  static override description = `The kit holds capplan as one bundled JS file (no node_modules), the profiles, llama.cpp (a llama-server built here, with CUDA for --cuda-arch when --cuda on and nvcc is here, and/or the trimmed llama.cpp source that the target builds itself), this Node.js with --with-node, the plan and run.sh. On the target, ./run.sh checks the host, builds llama-server only if none that works came along, synthesizes the models, runs the plan most valuable results first inside the time budget (every finished level saved), records nvidia-smi telemetry, runs \`capplan estimate --from\` on each result and writes results, logs and summary.md into one folder. The embedded engine (node-llama-cpp, native) is not in the kit.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --plan h200.yaml --budget 8m',
    '<%= config.bin %> <%= command.id %> --plan h200.yaml --llama source --cuda-arch 90 --with-node -o kit-h200',
    '<%= config.bin %> <%= command.id %> --plan h200.yaml --llama binary --cuda on --cuda-arch 80 --json',
  ]

  static override flags = packFlags

  async run(): Promise<PackPayload> {
    const f = this.flags
    const payload = await packKit(
      {
        planFile: f.plan,
        output: f.output,
        budgetSeconds: f.budget,
        llama: f.llama,
        serverBin: f['server-bin'],
        cuda: f.cuda,
        cudaArch: f['cuda-arch'],
        withNode: f['with-node'],
        archive: f.archive,
        profilesDir: f.profiles,
      },
      (line) => this.info(line),
    )
    if (!this.jsonEnabled()) for (const line of renderPack(payload)) this.log(line)
    return payload
  }
}
