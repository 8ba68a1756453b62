import {Args} from '@oclif/core'

import {CapplanCommand} from '../cli/base-command.js'
import {reportCostFlags} from '../cli/flags/cost.js'
import {reportMergeFlags, reportOutputFlags, reportSanityFlags} from '../cli/flags/report.js'
import {type CapplanError, ExitCode} from '../lib/errors.js'
import {buildReports, refuseIfNothingRead, reportText, type ReportPayload, unreadFilesError, writeReportFile} from '../services/report/report.js'

export type {ReportPayload} from '../services/report/report.js'

export default class Report extends CapplanCommand<typeof Report> {
  static override summary = "Turn result files (capplan's, llama-bench, vLLM, GuideLLM) into the operating point at your SLO and its cost."

  static override description = `For each result: the per-level table; the operating point = the highest measured load whose latency percentiles meet the SLO (--slo, else the workload profile's p95 SLO, else ttft=2s,tpot=50ms), interpolated between two measured levels when allowed (marked INTERPOLATED), never past the last level; when no level meets the SLO nothing is costed. The operating point's output tok/s feeds the cost model of \`capplan plan\` (GPU price from the result's host: GPU profile detected, cpu for CPU runs; GPUs per replica from the engine): $/1M tokens, replicas and GPUs for --volume (and --peak-factor), monthly and annual cost vs each API, the crossover volume or "never" with the reason, and the break-even tok/s.

Peer files are read as they are, detected by content: llama-bench -o json|jsonl (single-stream: no latency under load, the cost line says so), vllm bench serve --save-result (per-request samples with --save-detailed), GuideLLM benchmarks.json (its "TPOT" includes TTFT and is converted).

--format html writes one self-contained offline page (Chart.js inlined): throughput vs per-user speed and vs TTFT per result, monthly cost vs volume on log axes with each API's line, the self-hosted step function and the crossovers, and the numbers beneath.

Physics sanity: every level's measured output tok/s is divided by the decode ceiling of the hardware it ran on (memory bandwidth x 0.8 / bytes read per step, at the run's batch and average context) = its efficiency. A level above the physical limit (full datasheet bandwidth) is flagged IMPOSSIBLE (suspect a prefix cache, wrong token counts, clocks) and the operating point never uses it. CPU runs need a bandwidth: --bandwidth GB/s (measure it with \`capplan system --measure-bandwidth\`), else their efficiency is "unknown".

--what-if h200,b200 scales each operating point to each GPU profile: estimate = efficiency measured x the target's ceiling at the same batch and context, on as many GPUs as measured. It is costed like a measurement and labeled ESTIMATE with the result it comes from; it is refused (reason printed, no cost) when the model or the batch's KV cache does not fit the target.

Directories are searched recursively for .json/.jsonl files. An invalid file is listed with its reason, the others are still reported, and the exit code is 6.`

  static override examples = [
    {description: 'Every result under results/, costed against every API at 100M tokens/month', command: '<%= config.bin %> <%= command.id %> --volume 100M'},
    {
      description: 'One result at a stricter SLO, priced as an H100 at spot price, 3:1 input:output',
      command: '<%= config.bin %> <%= command.id %> results/run.json --slo ttft=1s,tpot=30ms --gpu h100-sxm --pricing spot --io-ratio 3:1',
    },
    {
      description: 'A llama-bench file, priced at $0.36/hour, as Markdown',
      command: '<%= config.bin %> <%= command.id %> llama_bench.json --gpu-price 0.36 --format md --out report.md',
    },
    {
      description: 'Efficiency of a CPU run (its bandwidth set), and what it would cost on an H200 and a B200 (estimates)',
      command: '<%= config.bin %> <%= command.id %> results/cpu-run.json --bandwidth 20 --what-if h200,b200',
    },
    {
      description: 'Two capplan processes that loaded one endpoint at the same time (each --concurrency 64), as one level at concurrency 128',
      command: '<%= config.bin %> <%= command.id %> --merge results/a.json results/b.json',
    },
    {
      description: 'An offline HTML report with charts (Chart.js inlined)',
      command: '<%= config.bin %> <%= command.id %> results/ --volume 100M --format html --out report.html',
    },
  ]

  static override strict = false

  static override args = {
    paths: Args.string({description: 'Result files or directories (default: results/). Several may be given.', required: false}),
  }

  static override flags = {
    ...reportCostFlags,
    ...reportSanityFlags,
    ...reportOutputFlags,
    ...reportMergeFlags,
  }

  public async run(): Promise<ReportPayload & {error?: ReturnType<CapplanError['toJSON']>}> {
    const payload = await buildReports(this.parsedArgv, this.flags, {profilesDir: this.flags.profiles, capplanVersion: this.config.version, out: this.flags.out})
    const format = this.flags.format ?? 'table'
    const text = await reportText(format, payload)
    if (this.flags.out !== undefined) this.info(await writeReportFile(this.flags.out, text, format, payload))
    else if (!this.jsonEnabled()) process.stdout.write(text)

    if (payload.invalid.length > 0) {
      // The report above is complete for the readable files; the exit code still says some were not.
      for (const bad of payload.invalid) this.warnLine(bad.message)
      refuseIfNothingRead(payload, this.jsonEnabled())
      process.exitCode = ExitCode.invalidResult
      // --json: the payload says why the exit code is not 0, as every failing command's JSON does.
      return {...payload, error: unreadFilesError(payload).toJSON()}
    }
    return payload
  }
}
