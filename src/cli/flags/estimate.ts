/**
 * `capplan estimate`'s text flags as flags that parse to values (src/cli/parsers/numbers.ts: a bad value is
 * INVALID_INPUT, exit 3, naming the flag with an example), so services/estimate/estimate.ts takes values
 * (EstimateFlagValues). The command gives each its summary.
 */

import {parseFraction, parseNonNegative, parsePositiveNumber} from '../parsers/numbers.js'
import {capplanFlag} from './custom.js'

const positive = (flag: string, example: string) => capplanFlag((text) => parsePositiveNumber(text, flag, example))
const fraction = (flag: string, example: string) => capplanFlag((text) => parseFraction(text, flag, example))

export const estimateFlag = {
  bandwidth: positive('bandwidth', '3350'),
  'memory-gb': positive('memory-gb', '80'),
  tflops: positive('tflops', '989'),
  'eta-bw': fraction('eta-bw', '0.8'),
  'eta-compute': fraction('eta-compute', '0.5'),
  mfu: fraction('mfu', '0.5'),
  'memory-utilization': fraction('memory-utilization', '0.9'),
  'overhead-gb': capplanFlag((text) => parseNonNegative(text, 'overhead-gb')),
  measured: positive('measured', '25'),
  'from-bandwidth': positive('from-bandwidth', '20'),
  /** GPU ids, blanks dropped; an empty list is allowed, as today. */
  'what-if': capplanFlag((text) =>
    text
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id !== ''),
  ),
}
