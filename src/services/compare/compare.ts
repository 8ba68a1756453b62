/**
 * `capplan compare`: result files -> each file's report (its operating point and cost, as `capplan report`
 * finds them) and the comparison of every file with the first (ratios, latencies at one load, Welch's test).
 */

import {loadProfiles} from '../../profiles/load.js'
import {compareResults, type CompareInput, type CompareResult} from '../../report/build/compare.js'
import {buildResultReport} from '../../report/build/result-report.js'
import {loadAnyResult} from '../../results/import/load.js'
import {reportOptions, type ReportFlagValues} from '../report/collect.js'

export interface CompareFlagValues extends ReportFlagValues {
  /** --load: compare latencies at this concurrency or rate instead of the highest common one. */
  load?: number | undefined
}

export interface CompareContext {
  profilesDir: string | undefined
  capplanVersion: string
}

export async function compareFiles(files: readonly string[], flags: CompareFlagValues, context: CompareContext): Promise<CompareResult> {
  const store = await loadProfiles({userDir: context.profilesDir})
  const options = reportOptions(flags, store)
  const inputs: CompareInput[] = []
  for (const file of files) {
    // A bad file stops compare (exit 6): a comparison with a side missing would mislead.
    const loaded = await loadAnyResult(file, {capplanVersion: context.capplanVersion, command: ['capplan', 'compare'], store})
    for (const {source, result} of loaded) inputs.push({file: source, result, report: buildResultReport(source, result, store, options)})
  }
  return compareResults(inputs, flags.load === undefined ? {} : {load: flags.load})
}
