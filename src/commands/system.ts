import {Flags} from '@oclif/core'

import {CapplanCommand} from '../cli/base-command.js'
import {renderSystemReport, systemReport, type SystemReport} from '../services/system/system.js'

export type {EmbeddedEngineView, SystemReport} from '../services/system/system.js'

export default class System extends CapplanCommand<typeof System> {
  static override summary = 'Show this machine as capplan sees it: CPU, cores, memory, OS, GPUs and the matching GPU profile.'

  static override description =
    'The same host snapshot every result file records, plus the GPU profile report would cost with and what ' +
    "the embedded engine (node-llama-cpp's prebuilt binaries) can use here. Never downloads or builds anything."

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --json',
    {
      description: "Also measure this host's memory bandwidth (for CPU results' efficiency in report)",
      command: '<%= config.bin %> <%= command.id %> --skip-engine --measure-bandwidth',
    },
  ]

  static override flags = {
    'skip-engine': Flags.boolean({
      description: 'Do not load node-llama-cpp to ask for its view of the machine (faster).',
      default: false,
    }),
    'measure-bandwidth': Flags.boolean({
      summary: 'Measure memory bandwidth (single-thread copy of 2 x 256 MiB, ~1 s; a lower bound) and print it in GB/s.',
      default: false,
    }),
  }

  public async run(): Promise<SystemReport> {
    const report = await systemReport(
      {profilesDir: this.flags.profiles, skipEngine: this.flags['skip-engine'], measureBandwidth: this.flags['measure-bandwidth']},
      (message) => this.info(message),
    )
    if (!this.jsonEnabled()) for (const line of renderSystemReport(report)) this.log(line)
    return report
  }
}
