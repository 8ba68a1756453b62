/**
 * `capplan bench --resume FILE`: which levels of a recorded run to measure again, and the argv that does it
 * (the file's own command, for its model and quantization, minus the levels it already holds). The recorded
 * command's levels are read by bench's own flags (the command passes its parse in), never by text rules here.
 */

import {existsSync} from 'node:fs'
import path from 'node:path'

import {BENCH_DEFAULTS} from '../../cli/flags/bench.js'
import {invalidInput, notFound} from '../../lib/errors.js'
import {quoteArgv} from '../../lib/redact.js'
import {readResultFile} from '../../results/read.js'
import type {LevelRecord, ResultFile} from '../../results/schema.js'

/** What `--resume FILE` runs: the recorded command for the levels the file lacks, and the levels it keeps. */
export interface ResumePlan {
  /** Arguments for `capplan bench` (the recorded ones, with --model/--quant of the file, the missing levels, --results-dir beside it). */
  argv: string[]
  /** The file's complete levels, copied into the new file as they are. */
  kept: LevelRecord[]
  /** Loads re-run (concurrency values or rates). */
  rerun: number[]
}

/** The load lists of a recorded command as values: what bench's flags parse its --concurrency and --rate into. */
export interface RecordedLoad {
  concurrency?: readonly number[] | undefined
  rate?: readonly number[] | undefined
}

/**
 * Parses a recorded `capplan bench` argv (the words after `capplan bench`) with bench's own flags: the command's
 * oclif parse, so a recorded list is read exactly as the run that recorded it read it.
 */
export type ParseRecordedArgv = (argv: string[]) => Promise<RecordedLoad>

/** argv without `--name V` / `--name=V` / a bare `--name` (boolean), before any `--`. */
export function withoutFlag(argv: readonly string[], name: string, takesValue: boolean): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') return [...out, ...argv.slice(i)]
    if (arg === name) {
      if (takesValue) i++
      continue
    }
    if (arg.startsWith(`${name}=`)) continue
    out.push(arg)
  }
  return out
}

/**
 * --resume: repeat the file's recorded `capplan bench` command for its model and quantization, only for the
 * planned levels (--concurrency or --rate list, default 1,2,4) that are not complete in the file; the new
 * result file goes beside it. A --sweep decides its levels as it runs and cannot be resumed; a recorded
 * command with a redacted secret cannot be repeated (both refused before the command is parsed).
 */
export async function resumePlan(file: ResultFile, filePath: string, parseRecorded: ParseRecordedArgv): Promise<ResumePlan> {
  if (file.status === 'complete') {
    throw invalidInput(`--resume ${filePath}: every level of this run is complete; there is nothing to resume.`, 'Run capplan bench to measure more levels.')
  }
  const words = file.capplan.command
  if (words[0] !== 'capplan' || words[1] !== 'bench') {
    throw invalidInput(
      `--resume ${filePath}: the file was not written by capplan bench (its command is "${quoteArgv(file.capplan.command)}").`,
      'Resume a file that capplan bench wrote.',
    )
  }
  let argv = words.slice(2)
  if (argv.includes('***')) {
    throw invalidInput(`--resume ${filePath}: the recorded command held a secret, stored as ***, so capplan cannot repeat it.`, 'Run capplan bench again with the same flags.')
  }
  if (argv.includes('--sweep')) {
    throw invalidInput(
      `--resume ${filePath}: a --sweep picks its levels as it runs, so there is no list of missing levels to resume.`,
      'Run capplan bench --sweep again, or --concurrency with the levels you want.',
    )
  }
  const recorded = await parseRecorded(argv)
  const planned = recorded.rate ?? recorded.concurrency ?? BENCH_DEFAULTS.concurrency
  const kind = recorded.rate === undefined ? 'concurrency' : 'rate'
  const kept = file.levels.filter((level) => level.status === 'complete' && level.load.kind === kind && planned.includes(level.load.value))
  const rerun = planned.filter((value) => !kept.some((level) => level.load.value === value))
  if (rerun.length === 0) {
    throw invalidInput(`--resume ${filePath}: every planned level is complete in the file.`, 'Nothing to resume; run capplan bench for other levels.')
  }
  for (const [flag, takesValue] of [
    ['--json', false],
    ['--resume', true],
    ['--model', true],
    ['--quant', true],
    ['--concurrency', true],
    ['--rate', true],
    ['--results-dir', true],
  ] as const) {
    argv = withoutFlag(argv, flag, takesValue)
  }
  const separator = argv.indexOf('--')
  const own = separator === -1 ? argv : argv.slice(0, separator)
  const extra = separator === -1 ? [] : argv.slice(separator)
  return {
    argv: [
      ...own,
      '--model',
      file.model.profile,
      '--quant',
      file.model.quant,
      kind === 'rate' ? '--rate' : '--concurrency',
      rerun.join(','),
      '--results-dir',
      path.dirname(path.resolve(filePath)),
      ...extra,
    ],
    kept,
    rerun,
  }
}

/**
 * `capplan bench --resume FILE [--json] [--profiles DIR]`: check that nothing else was given, read the file
 * and plan the rerun; `argv` (with --profiles carried over) is what bench parses again.
 */
export async function planResume(
  file: string,
  commandArgv: readonly string[],
  profilesFlag: string | undefined,
  parseRecorded: ParseRecordedArgv,
): Promise<{filePath: string; plan: ResumePlan}> {
  const separator = commandArgv.indexOf('--')
  const own = separator === -1 ? commandArgv : commandArgv.slice(0, separator)
  const others = own.filter((arg) => arg.startsWith('-') && !/^--(resume|json|profiles)(=|$)/.test(arg))
  if (others.length > 0 || separator !== -1) {
    throw invalidInput(
      `--resume repeats the recorded command, so it takes no other flags (got ${[...others, ...(separator === -1 ? [] : ['--'])].join(' ')}).`,
      'Drop them, or run capplan bench with the flags you want instead.',
    )
  }
  const filePath = path.resolve(file)
  if (!existsSync(filePath)) throw notFound(`--resume ${filePath} does not exist.`, 'Pass a result file written by capplan bench.')
  const plan = await resumePlan(await readResultFile(filePath), filePath, parseRecorded)
  if (own.some((arg) => arg.startsWith('--profiles')) && profilesFlag !== undefined) {
    plan.argv = [...withoutFlag(plan.argv, '--profiles', true), '--profiles', profilesFlag]
  }
  return {filePath, plan}
}
