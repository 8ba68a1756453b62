import {Args} from '@oclif/core'

import {CapplanCommand} from '../cli/base-command.js'
import {reportCostFlags} from '../cli/flags/cost.js'
import {compareLoadFlag} from '../cli/flags/report.js'
import type {CompareResult} from '../report/build/compare.js'
import {renderCompareTable} from '../report/render/compare.js'
import {compareFiles} from '../services/compare/compare.js'

export default class Compare extends CapplanCommand<typeof Compare> {
  static override summary = 'Compare result files side by side: throughput and $/1M at the SLO, latency percentiles, significance.'

  static override description = `The first file is the reference (A): every other file gets its ratio to A. Throughput and $/1M are taken at each file's operating point (the highest load meeting the SLO; see \`capplan report\`). Latencies (TTFT, TPOT, E2E) are compared at one load every file measured (the highest common one, or --load), and each difference is tested with Welch's two-sample t-test on the per-request samples (two-sided, alpha 0.05): "no significant difference" when p >= 0.05.

A warning is printed when the workloads differ (input/output lengths, prompt source, dataset). Peer files (llama-bench, vLLM, GuideLLM) are read directly.`

  static override examples = [
    {description: 'int4 vs fp16 of the same model on this machine', command: '<%= config.bin %> <%= command.id %> results/int4.json results/fp16.json'},
    {description: 'Three GPUs at one SLO, priced at spot', command: '<%= config.bin %> <%= command.id %> a.json b.json c.json --slo ttft=1s,tpot=40ms --pricing spot'},
  ]

  static override strict = false

  static override args = {
    a: Args.string({description: 'Reference result file (A).', required: true}),
    b: Args.string({description: 'Result file to compare with A (more may follow).', required: true}),
  }

  static override flags = {
    ...reportCostFlags,
    load: compareLoadFlag,
  }

  public async run(): Promise<CompareResult> {
    const comparison = await compareFiles(this.parsedArgv, this.flags, {profilesDir: this.flags.profiles, capplanVersion: this.config.version})
    if (!this.jsonEnabled()) this.log(renderCompareTable(comparison))
    else for (const warning of comparison.warnings) this.warnLine(warning)
    return comparison
  }
}
