import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {measureDecodeTokensPerSecond} from '../../src/engines/embedded.js'
import {ensureSyntheticModel} from '../../src/gguf/synth.js'
import {tinyLlama} from '../helpers/tiny-models.js'

/** measureDecodeTokensPerSecond (used by `npm run bench`) on a tiny llama-architecture model. */
describe('measureDecodeTokensPerSecond', () => {
  let cacheDir: string
  let modelPath: string
  const previousCache = process.env.CAPPLAN_CACHE_DIR

  beforeAll(async () => {
    cacheDir = mkdtempSync(path.join(os.tmpdir(), 'capplan-decode-'))
    process.env.CAPPLAN_CACHE_DIR = cacheDir
    modelPath = (await ensureSyntheticModel({profile: tinyLlama, quant: 'int8'})).path
  })

  afterAll(() => {
    if (previousCache === undefined) delete process.env.CAPPLAN_CACHE_DIR
    else process.env.CAPPLAN_CACHE_DIR = previousCache
    rmSync(cacheDir, {recursive: true, force: true})
  })

  it('reports the mean of its timed repetitions, each a positive rate', async () => {
    const result = await measureDecodeTokensPerSecond(modelPath, {threads: 1, tokens: 32, repetitions: 3, flashAttention: false})
    expect(result.tokens).toBe(32)
    expect(result.threads).toBe(1)
    expect(result.samples).toHaveLength(3)
    for (const sample of result.samples) expect(sample).toBeGreaterThan(0)
    const mean = (result.samples[0]! + result.samples[1]! + result.samples[2]!) / 3
    expect(result.tokensPerSecond).toBeCloseTo(mean, 9)
  })
})
