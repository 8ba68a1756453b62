import {EngineError, notFound} from '../../lib/errors.js'
import {type LlamaBenchRow, parseLlamaBenchOutput} from '../../results/import/llama-bench-format.js'
import {findLlamaCppTool} from './build.js'

export interface RunLlamaBenchOptions {
  modelPath: string
  threads: number
  /** Prompt tokens for the pp test; 0 skips it. */
  nPrompt: number
  /** Generated tokens for the tg test; 0 skips it. */
  nGen: number
  repetitions: number
  /** llama-bench binary; found with findLlamaCppTool when absent. */
  binary?: string
  /** Extra llama-bench flags, appended as given (e.g. ['-ub', '256']). */
  extraArgs?: readonly string[]
  signal?: AbortSignal
}

/** Build llama-bench's argument list (pure, so it can be checked without running anything). */
export function llamaBenchArgs(options: Omit<RunLlamaBenchOptions, 'binary' | 'signal'>): string[] {
  return [
    '-m',
    options.modelPath,
    '-t',
    String(options.threads),
    '-p',
    String(options.nPrompt),
    '-n',
    String(options.nGen),
    '-r',
    String(options.repetitions),
    '-o',
    'jsonl',
    ...(options.extraArgs ?? []),
  ]
}

/** Run llama-bench on a GGUF file and return its rows (jsonl on stdout; progress on stderr is kept for errors). */
export async function runLlamaBench(options: RunLlamaBenchOptions): Promise<LlamaBenchRow[]> {
  const binary = options.binary ?? (await findLlamaCppTool('llama-bench'))
  if (binary === null) {
    throw notFound(
      "llama-bench was not found (not in $CAPPLAN_LLAMA_BIN_DIR, capplan's build directory, or PATH).",
      'Build it offline with `capplan engine build llama-bench`.',
    )
  }
  const args = llamaBenchArgs(options)
  // Imported here: report/import load this module for its parsers and should not pay execa's start-up (~90 ms).
  const {execa} = await import('execa')
  const result = await execa(binary, args, {reject: false, cancelSignal: options.signal, stdin: 'ignore'})
  const command = [binary, ...args].join(' ')
  if (result.exitCode !== 0 || result.failed) {
    const why = result.exitCode === undefined ? (result.signal ?? 'it failed to start') : `exit code ${result.exitCode}`
    throw new EngineError(
      `llama-bench failed on ${options.modelPath} (${why}).`,
      'Check that the model file is a complete GGUF and that the thread count fits this machine.',
      command,
      result.stderr.trimEnd().split('\n').slice(-15),
    )
  }
  return parseLlamaBenchOutput(result.stdout, `llama-bench output (${command})`)
}
