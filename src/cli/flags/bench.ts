/** Flags only `capplan bench` has whose values come from the load generator's lists. */

import {Flags} from '@oclif/core'

import {ON_ENGINE_ERROR} from '../../loadgen/run.js'

/** bench --on-error: what a spawned server dying mid-run does to the run (stop | continue). */
export const onEngineErrorFlag = Flags.option({options: ON_ENGINE_ERROR})
