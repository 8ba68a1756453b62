/**
 * `capplan import --serving` text -> the result file's serving record (src/results/serving.ts):
 * "dp-attention,kv-cache=fp8,spec=mtp:1.8,ep=8,decode-only" (any of them, comma-separated). Each bad item is
 * INVALID_INPUT naming it with a valid example.
 */

import {invalidInput} from '../../lib/errors.js'
import type {ServingRecord} from '../../results/serving.js'
import {parsePositiveNumber, parseWholeNumber} from './numbers.js'

const example = '--serving dp-attention,kv-cache=fp8,spec=mtp:2,ep=8,decode-only'
const kvCaches = ['fp16', 'bf16', 'fp8', 'q8_0'] as const

export function parseServingSpec(text: string): ServingRecord {
  const record: ServingRecord = {}
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
  if (items.length === 0) throw invalidInput('--serving is empty.', `Name the features the run used, e.g. ${example}.`)
  for (const item of items) {
    const [key, value] = item.split('=', 2) as [string, string | undefined]
    switch (key) {
      case 'dp-attention':
        record.dataParallelAttention = true
        break
      case 'decode-only':
        record.decodeOnly = true
        break
      case 'kv-cache':
        if (!(kvCaches as readonly string[]).includes(value ?? ''))
          throw invalidInput(`--serving: kv-cache=${value ?? ''} is not a KV cache precision.`, `Use kv-cache=${kvCaches.join('|')}, e.g. kv-cache=fp8.`)
        record.kvCache = value as ServingRecord['kvCache']
        break
      case 'ep':
        record.expertParallel = parseWholeNumber(value ?? '', 'serving ep', {min: 1})
        break
      case 'spec': {
        const [method, tokens] = (value ?? '').split(':', 2)
        if (method === undefined || method === '')
          throw invalidInput(`--serving: "${item}" names no speculative method.`, 'e.g. spec=mtp:2 (method, and accepted tokens per step when known).')
        const tokensPerStep = tokens === undefined ? undefined : parsePositiveNumber(tokens, 'serving spec', 'mtp:2')
        if (tokensPerStep !== undefined && tokensPerStep < 1) throw invalidInput(`--serving: ${item}: tokens per step is at least 1.`, 'e.g. spec=mtp:1.8.')
        record.speculative = {method, ...(tokensPerStep === undefined ? {} : {tokensPerStep})}
        break
      }
      default:
        throw invalidInput(`--serving: unknown feature "${item}".`, `Use dp-attention, kv-cache=..., spec=METHOD[:TOKENS], ep=N, decode-only, e.g. ${example}.`)
    }
  }
  return record
}
