/** Text -> value for the flags only `capplan bench` has: quantizations, concurrency levels, a bind address. */

import {invalidInput} from '../../lib/errors.js'
import {type QuantLevel, quantLevels} from '../../profiles/schema.js'

/** "int4,fp16" -> ['int4', 'fp16'] (deduplicated, order kept); anything else is INVALID_INPUT naming the flag. */
export function parseQuantList(text: string): QuantLevel[] {
  const items = text
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter((item) => item !== '')
  if (items.length === 0) throw invalidInput('--quant is empty.', `Give one or more of ${quantLevels.join(', ')}, e.g. --quant int4,fp16.`)
  for (const item of items) {
    if (!(quantLevels as readonly string[]).includes(item)) {
      throw invalidInput(`--quant "${item}" is not a quantization level.`, `Use ${quantLevels.join(', ')} (comma-separated for several), e.g. --quant int4,fp16.`)
    }
  }
  return [...new Set(items)] as QuantLevel[]
}

/** "1,2,4" -> [1, 2, 4] (deduplicated, ascending); each a whole number >= 1, at most 256. */
export function parseConcurrencyList(text: string): number[] {
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
  if (items.length === 0) throw invalidInput('--concurrency is empty.', 'Give e.g. --concurrency 1,2,4.')
  const values = items.map((item) => {
    const value = Number(item)
    if (!/^\d+$/.test(item) || !Number.isInteger(value) || value < 1 || value > 256) {
      throw invalidInput(`--concurrency "${item}" is not a whole number from 1 to 256.`, 'Give e.g. --concurrency 1,2,4,8.')
    }
    return value
  })
  return [...new Set(values)].sort((a, b) => a - b)
}

/** --host: an address or name, as a server's --host flag takes it (no spaces, no scheme or port). */
export function parseBindHost(host: string): string {
  const value = host.trim()
  if (value === '' || /[\s/]/.test(value) || /^[a-z]+:\/\//i.test(value)) {
    throw invalidInput(`--host "${host}" is not an address.`, 'Pass an address to bind, e.g. --host 127.0.0.1 (default) or --host 0.0.0.0 (every interface).')
  }
  return value
}
