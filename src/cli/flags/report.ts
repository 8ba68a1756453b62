/** Flags only `capplan report` and `capplan compare` have, as oclif flags that parse to values. */

import {Flags} from '@oclif/core'

import {invalidInput} from '../../lib/errors.js'
import {reportFormats} from '../../report/render/report.js'
import {parsePositiveNumber} from '../parsers/numbers.js'
import {capplanFlag} from './custom.js'

/** --what-if "h200, b200" -> ['h200', 'b200'] (whether each is a GPU profile is the service's check). */
export function parseWhatIfList(text: string): string[] {
  const ids = text
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '')
  if (ids.length === 0) throw invalidInput('--what-if is empty.', 'Name GPU profiles, e.g. --what-if h200,b200.')
  return ids
}

/** compare --load N: a positive number (a concurrency or a rate every file measured). */
export function parseCompareLoad(text: string): number {
  const load = Number(text)
  if (!(load > 0)) throw invalidInput(`--load "${text}" is not a positive number.`, 'e.g. --load 4 (a concurrency every file measured).')
  return load
}

/** The text -> value of report's sanity flags. */
export const reportSanityParsers = {
  bandwidth: (text: string): number => parsePositiveNumber(text, 'bandwidth', '20'),
  'what-if': parseWhatIfList,
}

/** `capplan report` only: physics sanity and what-if (src/report/build/result-report.ts). */
export const reportSanityFlags = {
  bandwidth: capplanFlag(reportSanityParsers.bandwidth)({
    summary: 'Memory bandwidth in GB/s of results whose hardware profile has none (CPU runs), for their efficiency; measure it with `capplan system --measure-bandwidth`.',
    helpValue: 'GB/S',
  }),
  'what-if': capplanFlag(parseWhatIfList)({
    summary: 'Comma-separated GPU profile ids: scale each operating point to them by its measured efficiency and cost it (labeled ESTIMATE).',
    helpValue: 'IDS',
  }),
}

/** `capplan report --merge`: the files as ONE result (src/report/build/merge.ts). */
export const reportMergeFlags = {
  merge: Flags.boolean({
    summary:
      'Merge the result files of several capplan processes that loaded one endpoint together into one result: per common load, the overlap of their windows (wall clock), loads summed, requests pooled.',
  }),
}

/** report's output: the format and --out FILE. */
export const reportOutputFlags = {
  format: Flags.option({options: reportFormats, summary: 'Output format (default table).'})(),
  out: Flags.string({char: 'o', summary: 'Write the report to FILE instead of stdout.', helpValue: 'FILE'}),
}

export const compareLoadFlag = capplanFlag(parseCompareLoad)({
  summary: 'Compare latencies at this load (concurrency or req/s) instead of the highest common one.',
  helpValue: 'N',
})
