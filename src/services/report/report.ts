/**
 * `capplan report`: FILES/DIRS -> every result's report (operating point, cost, sanity, what-if) and the
 * text of the chosen format. Files are read one at a time and reduced to their report as they are read.
 */

import {randomUUID} from 'node:crypto'

import {type CapplanError, invalidInput, invalidResult, notFound} from '../../lib/errors.js'
import {checkOutputPath} from '../../lib/output-path.js'
import {writeOutputFile} from '../../lib/safe-write.js'
import {loadProfiles} from '../../profiles/load.js'
import {mergeResults} from '../../report/build/merge.js'
import {buildResultReport, type ResultReport} from '../../report/build/result-report.js'
import {type InvalidResultFile, type ReportFormat, renderReportCsv, renderReportMarkdown, renderReportTable} from '../../report/render/report.js'
import {collectResultFiles, loadResultFiles, reportOptions, type ReportFlagValues} from './collect.js'

export interface ReportPayload {
  results: ResultReport[]
  invalid: InvalidResultFile[]
}

export interface ReportContext {
  profilesDir: string | undefined
  capplanVersion: string
  /** --out FILE: checked (lib/output-path) once the input files are known, before any is read. */
  out?: string | undefined
}

const OUT_WORDS = {flag: '--out', what: 'the report'} as const

/** Profiles, flags, files (NOT_FOUND when there are none), then each file's report; bad files are listed in `invalid`. */
export async function buildReports(paths: readonly string[], {merge = false, ...flags}: ReportFlagValues & {merge?: boolean}, context: ReportContext): Promise<ReportPayload> {
  const store = await loadProfiles({userDir: context.profilesDir})
  const options = reportOptions(flags, store)
  const files = await collectResultFiles(paths)
  if (files.length === 0) {
    throw notFound(
      `No result files (.json, .jsonl) in ${paths.length === 0 ? 'results/' : paths.join(', ')}.`,
      'Run `capplan bench` first, or pass result files (capplan, llama-bench, vLLM, GuideLLM).',
    )
  }
  if (context.out !== undefined) await checkOutputPath(context.out, {...OUT_WORDS, inputs: files})
  if (merge) {
    const {loaded, invalid} = await loadResultFiles(files, {capplanVersion: context.capplanVersion, command: ['capplan', 'report'], store})
    if (invalid.length > 0) {
      throw invalidInput(
        `--merge: ${invalid.map((bad) => `${bad.file}: ${bad.message}`).join('; ')}`,
        'Merge only files that all read: a merge of some of them would be a different load.',
      )
    }
    const merged = mergeResults(loaded, randomUUID())
    return {results: [buildResultReport(`merged: ${loaded.map((l) => l.source).join(' + ')}`, merged.result, store, options)], invalid: []}
  }
  const {loaded: results, invalid} = await loadResultFiles(files, {capplanVersion: context.capplanVersion, command: ['capplan', 'report'], store}, ({source, result}) =>
    buildResultReport(source, result, store, options),
  )
  return {results, invalid}
}

/** The report in one format. html.js is imported only for html: report over thousands of files starts faster. */
export async function reportText(format: ReportFormat, {results, invalid}: ReportPayload): Promise<string> {
  if (format === 'json') return `${JSON.stringify({results, invalid})}\n` // compact: thousands of results make tens of MB indented
  if (format === 'html') return (await import('../../report/render/html.js')).renderReportHtml(results, invalid)
  if (format === 'md') return renderReportMarkdown(results, invalid)
  if (format === 'csv') return renderReportCsv(results, invalid)
  return `${renderReportTable(results, invalid)}\n`
}

/**
 * --out FILE: complete or not at all (lib/safe-write: a full disk is exit 7 and the previous file stays; a
 * device such as /dev/null is written as a stream); returns the line that says so.
 */
export async function writeReportFile(file: string, text: string, format: ReportFormat, {results, invalid}: ReportPayload): Promise<string> {
  await writeOutputFile(file, text, OUT_WORDS)
  return `Wrote ${file} (${format}, ${results.length} result${results.length === 1 ? '' : 's'}${invalid.length > 0 ? `, ${invalid.length} invalid` : ''}).`
}

/** The error the exit code 6 stands for when some (or all) files could not be read: one line naming how many. */
export function unreadFilesError({results, invalid}: ReportPayload): CapplanError {
  const total = results.length + invalid.length
  return results.length === 0
    ? invalidResult(`None of the ${invalid.length} result file(s) could be read.`, invalid[0]!.suggestion)
    : invalidResult(
        `${invalid.length} of ${total} result files could not be read (listed under "invalid"); the report covers the other ${results.length}.`,
        invalid[0]!.suggestion,
      )
}

/**
 * Some files could not be read: the report is complete for the others, so this only throws (INVALID_RESULT)
 * when none could be read and there is no JSON payload to carry the list (under --json the payload carries
 * the same error object, see the report command).
 */
export function refuseIfNothingRead(payload: ReportPayload, jsonEnabled: boolean): void {
  if (payload.invalid.length > 0 && payload.results.length === 0 && !jsonEnabled) throw unreadFilesError(payload)
}
