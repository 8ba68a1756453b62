import {CapplanCommand} from '../cli/base-command.js'
import {benchFlags} from '../cli/flags/bench.js'
import {interruptSignal} from '../cli/interrupt.js'
import {createStatusLine} from '../cli/progress.js'
import {CapplanError, invalidInput} from '../lib/errors.js'
import {redactArgv} from '../lib/redact.js'
import type {LevelRecord} from '../results/schema.js'
import {resolveBenchOptions} from '../services/bench/options.js'
import {planResume} from '../services/bench/resume.js'
import {interruptedError, measureBench} from '../services/bench/run.js'
import {benchExitCode, benchPayload, type BenchJson, renderBenchOutcome} from '../services/bench/summary.js'

export type {BenchJson} from '../services/bench/summary.js'

export default class Bench extends CapplanCommand<typeof Bench> {
  static override summary =
    'Measure throughput and latency (embedded llama.cpp, llama-server, vLLM or any OpenAI-compatible endpoint), then cost the SLO operating point against API prices.'

  static override description = [
    "With no flags: synthesizes (once, cached) a random-weight GGUF with Qwen2.5-0.5B's exact architecture at int4 (Q4_0), loads it in-process with node-llama-cpp's prebuilt llama.cpp (CPU here; a GPU where its binaries find one), runs a warmup and then closed-loop levels at concurrency 1, 2 and 4 with the `chat` workload's shape (512 prompt tokens, 256 output tokens, EOS ignored, a unique prompt per request), writes a result file into results/ (saved after every level) and prints the per-level summary and the monthly cost of the best level's throughput on the `cpu` profile (or the detected GPU) against every API profile.",
    'Throughput of a dense model does not depend on weight values, so the synthetic copy measures what the real model would on the same hardware; the generated text is meaningless.',
    'Other engines: --engine llamacpp spawns llama-server (log kept beside the result file as <name>.server.log), --engine vllm spawns vllm serve, --engine openai measures a running server at --endpoint. Extra engine flags go after `--`.',
    "Load modes: --concurrency (closed loop), --rate (open loop, Poisson), --sweep; each level ends after --requests, --duration or --precision. The cost line uses the highest throughput that meets the SLO (--slo, else the workload's), found as `capplan report` does; when no level meets it, the highest measured throughput is costed and labeled so.",
    'Ctrl-C (or SIGTERM) stops the run, stops any server, keeps the levels measured so far (status "interrupted") and exits 130.',
    "A spawned server that dies during a run: the level is saved as failed with the requests finished before and the server's last log lines in the notes; --on-error stop (default) ends that quantization's run, --on-error continue restarts the server. Exit code 9 (PARTIAL_RUN) when any level failed.",
  ].join('\n\n')

  static override examples = [
    {description: 'The default run (a few minutes on a 2-core CPU)', command: '<%= config.bin %> <%= command.id %>'},
    {
      description: 'Compare quantizations: one result file each, one summary table',
      command: '<%= config.bin %> <%= command.id %> --quant int4,int8,fp16 --concurrency 1,2 --requests 4',
    },
    {
      description: 'A short custom shape, machine-readable output',
      command: '<%= config.bin %> <%= command.id %> --input-tokens 128 --output-tokens 64 --concurrency 1,4 --json',
    },
    {
      description: 'llama-server on the synthesized model, three quantizations',
      command: '<%= config.bin %> <%= command.id %> --engine llamacpp --synthetic --model qwen2.5-0.5b --quant int4,int8,fp16 --concurrency 1,2,4',
    },
    {
      description: 'llama-server on your own GGUF, extra server flags after --',
      command: '<%= config.bin %> <%= command.id %> --engine llamacpp --model-file ./model.gguf -- --mlock',
    },
    {
      description: 'llama-server through its OpenAI-compatible POST /v1/completions; if the server dies, restart it and go on',
      command: '<%= config.bin %> <%= command.id %> --engine llamacpp --synthetic --api v1-completions --on-error continue --concurrency 1,4,16',
    },
    {
      description: 'A chat endpoint with text prompts (chat needs --dataset)',
      command: '<%= config.bin %> <%= command.id %> --engine openai --endpoint http://127.0.0.1:8000 --api chat --dataset prompts.jsonl --concurrency 1,8',
    },
    {description: 'vLLM on 2 GPUs (tensor parallel)', command: '<%= config.bin %> <%= command.id %> --model qwen2.5-72b --quant int4 --engine vllm --gpus 2'},
    {
      description: 'A running server, open loop at three rates, 60 s per level, your SLO',
      command:
        '<%= config.bin %> <%= command.id %> --engine openai --endpoint http://10.0.0.5:8000 --api-key-env MY_KEY --gpus 1 --rate 0.5,1,2 --duration 60s --slo ttft=2s,tpot=50ms',
    },
    {
      description: 'Measure again the levels a run lacks (failed, interrupted, never reached): a new file beside it',
      command: '<%= config.bin %> <%= command.id %> --resume results/20261122T074935Z_vm_cpu_qwen2.5-0.5b_int4_llamacpp.json',
    },
    {description: 'Find the knee: raise concurrency until throughput stops growing', command: '<%= config.bin %> <%= command.id %> --sweep --precision 5%'},
    {description: 'Text prompts from a dataset', command: '<%= config.bin %> <%= command.id %> --dataset prompts.jsonl --concurrency 1,4'},
  ]

  // Extra engine flags follow `--` (e.g. `-- --mlock`); unknown words before it are refused in run().
  static override strict = false

  static override flags = benchFlags

  public async run(): Promise<BenchJson & {error?: ReturnType<CapplanError['toJSON']>}> {
    const resumed = this.flags.resume === undefined ? undefined : await this.resume(this.flags.resume)
    const {options, store} = await resolveBenchOptions(this.flags, this.engineExtraArgs(), (message) => this.warnLine(message))
    const status = createStatusLine({enabled: !this.jsonEnabled()})
    const interrupt = interruptSignal(() => {
      status.clear()
      this.warnLine('Interrupted: saving what was measured so far (Ctrl-C again to quit at once)...')
    })
    let runs
    try {
      runs = await measureBench(
        options,
        store,
        {
          capplanVersion: this.config.version,
          command: redactArgv(['capplan', 'bench', ...this.argv]),
          ...(resumed === undefined ? {} : {resumedFrom: resumed}),
        },
        {status, info: (message) => this.info(message), warn: (message) => this.warnLine(message), signal: interrupt.signal},
      )
    } finally {
      interrupt.dispose()
      status.clear()
    }

    const payload = benchPayload(runs, store, options.slo, options.gpuProfileFlag, (message) => this.warnLine(message))
    if (!this.jsonEnabled()) {
      const text = renderBenchOutcome(runs, payload)
      if (text !== '') this.log(text)
    }
    if (interrupt.signal.aborted) throw interruptedError(runs.map((run) => run.path))
    const exitCode = benchExitCode(runs.map((run) => run.result.status))
    if (exitCode !== 0) {
      const incomplete = runs.filter((run) => run.result.status !== 'complete').map((run) => `${run.path} (${run.result.status})`)
      const partial = new CapplanError(
        'PARTIAL_RUN',
        `Some levels failed; the result files keep every measurement: ${incomplete.join(', ')}.`,
        "Read the failed levels' notes (capplan report FILE); measure them again with capplan bench --resume FILE.",
      )
      this.warnLine(`${partial.message} Exit code ${exitCode} (PARTIAL_RUN).`)
      process.exitCode = exitCode
      // --json: the payload says why the exit code is not 0, as every failing command's JSON does.
      return {...payload, error: partial.toJSON()}
    }
    return payload
  }

  /**
   * --resume FILE: re-parse the flags from the file's recorded command (resumePlan, which reads the recorded
   * levels through this same parse) so the rest of run() is the ordinary bench; returns what runBench copies
   * into the new file.
   */
  private async resume(file: string): Promise<{file: string; levels: LevelRecord[]}> {
    const {filePath, plan} = await planResume(file, this.argv, this.flags.profiles, (recorded) => this.parseRecorded(recorded))
    let {argv} = plan
    if (this.jsonEnabled()) argv = ['--json', ...argv]
    const parsed = await this.parseBench(argv)
    this.argv = argv
    this.flags = parsed.flags as typeof this.flags
    this.parsedArgv = parsed.argv.map(String)
    this.info(`Resuming ${filePath}: keeping ${plan.kept.length} complete level(s), measuring ${plan.rerun.join(', ')} again.`)
    return {file: filePath, levels: plan.kept}
  }

  /** bench's flags over `argv` (a recorded or resumed command), as init() parses the real one. */
  private parseBench(argv: string[]) {
    return this.parse({args: Bench.args, baseFlags: CapplanCommand.baseFlags, enableJsonFlag: true, flags: Bench.flags, strict: false}, argv)
  }

  /** The recorded command's flags as values. oclif's parse makes its argv this.argv: the real one (--json) is kept. */
  private async parseRecorded(argv: string[]) {
    const own = this.argv
    try {
      return (await this.parseBench(argv)).flags
    } finally {
      this.argv = own
    }
  }

  /** Words after `--` go to the engine; anything else oclif could not place is a mistyped flag. */
  private engineExtraArgs(): string[] {
    const separator = this.argv.indexOf('--')
    const extra = separator === -1 ? [] : this.argv.slice(separator + 1)
    const unknown = this.parsedArgv.slice(0, Math.max(0, this.parsedArgv.length - extra.length))
    if (unknown.length > 0) {
      throw invalidInput(
        `Unexpected argument${unknown.length > 1 ? 's' : ''}: ${unknown.join(' ')}.`,
        'See capplan bench --help; extra engine flags go after --, e.g. capplan bench --engine llamacpp -- --mlock.',
      )
    }
    return extra
  }
}
