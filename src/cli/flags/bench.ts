/**
 * `capplan bench`'s flags whose values come from the load generator's lists, and its text flags as flags
 * that parse to values (src/cli/parsers/{bench,load,slo}.ts). bench's flag block still takes text until
 * services/bench/options.ts takes these values (BenchFlagValues).
 */

import {Flags} from '@oclif/core'

import {ON_ENGINE_ERROR} from '../../loadgen/run.js'
import {parseBindHost, parseConcurrencyList, parseQuantList} from '../parsers/bench.js'
import {parseDuration, parsePrecision, parseRates} from '../parsers/load.js'
import {parseSlo} from '../parsers/slo.js'
import {capplanFlag} from './custom.js'

/** bench --on-error: what a spawned server dying mid-run does to the run (stop | continue). */
export const onEngineErrorFlag = Flags.option({options: ON_ENGINE_ERROR})

/**
 * Each text flag of bench as a value flag; the command gives the summary. oclif does not parse a default, so
 * a default is a value and its text goes in defaultHelp, e.g.
 * `'startup-timeout': benchFlag['startup-timeout']({default: 600_000, defaultHelp: async () => '10m'})`.
 */
export const benchFlag = {
  quant: capplanFlag(parseQuantList),
  concurrency: capplanFlag(parseConcurrencyList),
  rate: capplanFlag((text) => parseRates(text, '--rate')),
  duration: capplanFlag((text) => parseDuration(text, '--duration')),
  precision: capplanFlag((text) => parsePrecision(text, '--precision')),
  host: capplanFlag(parseBindHost),
  slo: capplanFlag((text) => parseSlo(text, '--slo')),
  'startup-timeout': capplanFlag((text) => parseDuration(text, '--startup-timeout')),
  'request-timeout': capplanFlag((text) => parseDuration(text, '--request-timeout')),
}
