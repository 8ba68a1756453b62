import {beforeAll, describe, expect, it} from 'vitest'

import {parseServingSpec} from '../../../src/cli/parsers/serving.js'
import {CapplanError} from '../../../src/lib/errors.js'
import {loadProfiles} from '../../../src/profiles/load.js'
import type {ProfileStore} from '../../../src/profiles/store.js'
import {certainlyMatchesResultFileSchema} from '../../../src/results/fast-validate.js'
import {readResultFile} from '../../../src/results/read.js'
import {resultFileSchema, type ResultFile} from '../../../src/results/schema.js'
import {operatingPointOfLevel} from '../../../src/roofline/from-result.js'
import {applyImportOverrides} from '../../../src/services/import/import.js'

let store: ProfileStore
let result: ResultFile
beforeAll(async () => {
  store = await loadProfiles()
  result = await readResultFile('test/fixtures/peers/capplan-embedded-int4.json')
})

describe('the serving record (schemaVersion 3, optional)', () => {
  it('a file with one validates in zod and in the fast path alike; a bad one fails both', () => {
    const good = {...result, serving: {dataParallelAttention: true, kvCache: 'fp8', speculative: {method: 'mtp', tokensPerStep: 1.8}}}
    expect(resultFileSchema.safeParse(good).success).toBe(true)
    expect(certainlyMatchesResultFileSchema(JSON.parse(JSON.stringify(good)))).toBe(true)
    const bad = {...result, serving: {kvCache: 'int3'}}
    expect(resultFileSchema.safeParse(bad).success).toBe(false)
    expect(certainlyMatchesResultFileSchema(JSON.parse(JSON.stringify(bad)))).toBe(false)
    const unknown = {...result, serving: {flashAttention: true}}
    expect(resultFileSchema.safeParse(unknown).success).toBe(false)
    expect(certainlyMatchesResultFileSchema(JSON.parse(JSON.stringify(unknown)))).toBe(false)
  })

  it('the physics check reads it: KV precision and the features reach the operating point', () => {
    const level = result.levels[0]!
    const plain = operatingPointOfLevel(store, result, level)
    expect(plain.features).toBeUndefined()
    expect(plain.kvCache).toBe('fp16')
    const served = operatingPointOfLevel(store, {...result, serving: {dataParallelAttention: true, kvCache: 'fp8', speculative: {method: 'eagle', tokensPerStep: 2}, decodeOnly: true}}, level)
    expect(served.kvCache).toBe('fp8')
    expect(served.features).toEqual({dataParallelAttention: true, tokensPerStep: 2, decodeOnly: true})
  })
})

describe('import --format and --serving', () => {
  it('--format fp8 records the precision and its quant level, --serving the features, both noted', () => {
    const next = applyImportOverrides(result, store, {format: 'fp8', serving: {dataParallelAttention: true, kvCache: 'fp8'}})
    expect(next.model.format).toBe('FP8')
    expect(next.model.quant).toBe('int8')
    expect(next.serving).toEqual({dataParallelAttention: true, kvCache: 'fp8'})
    expect(next.notes.at(-1)).toBe('set by capplan import: --format fp8 --serving {"dataParallelAttention":true,"kvCache":"fp8"}')
  })

  it('--format awq with --quant int8 is a contradiction: INVALID_INPUT naming both', () => {
    expect(() => applyImportOverrides(result, store, {format: 'awq', quant: 'int8'})).toThrow('--format awq is an int4 format but --quant is int8.')
  })

  it('--serving text: every feature, and one message for a bad item', () => {
    expect(parseServingSpec('dp-attention, kv-cache=fp8, spec=mtp:1.8, ep=8, decode-only')).toEqual({
      dataParallelAttention: true,
      kvCache: 'fp8',
      speculative: {method: 'mtp', tokensPerStep: 1.8},
      expertParallel: 8,
      decodeOnly: true,
    })
    expect(parseServingSpec('spec=eagle')).toEqual({speculative: {method: 'eagle'}})
    for (const [text, message] of [
      ['dp', '--serving: unknown feature "dp".'],
      ['kv-cache=int3', '--serving: kv-cache=int3 is not a KV cache precision.'],
      ['spec=mtp:0.5', '--serving: spec=mtp:0.5: tokens per step is at least 1.'],
      ['', '--serving is empty.'],
    ] as const) {
      const error = (() => {
        try {
          parseServingSpec(text)
        } catch (caught) {
          return caught
        }
        return null
      })()
      expect(error).toBeInstanceOf(CapplanError)
      expect((error as CapplanError).message).toBe(message)
      expect((error as CapplanError).kind).toBe('INVALID_INPUT')
    }
  })
})
