import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {CapplanError} from '../../../../src/lib/errors.js'
import {importPeerFile} from '../../../../src/services/import/import.js'
import {searchFromFlags} from '../../../../src/services/search/search.js'
import {peers} from '../../../helpers/cli.js'

// A REAL peer file (SGLang bench_serving, Llama-3.3-70B on 8 x H200; test/fixtures/peers/SOURCES.md), imported
// the way a user would, is the --results directory: its deployment must come out MEASURED.
let dir: string
const context = {profilesDir: undefined, capplanVersion: '0.1.0'}
const base = {model: 'llama-3.1-70b', 'daily-volume': 500e6, slo: {ttftMs: 1000, tpotMs: 40}, 'gpus-available': ['h100-sxm', 'h200']}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'capplan-search-'))
  await importPeerFile(
    path.join(peers, 'sglang_bench_serving_llama70b_h200.jsonl'),
    {model: 'llama-3.1-70b', gpu: 'h200', gpus: 8, out: path.join(dir, 'sglang.json')},
    {capplanVersion: '0.1.0', info: () => {}},
  )
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('searchFromFlags with --results', () => {
  it('the imported SGLang run makes 8 x h200 (TP 8) fp16 sglang MEASURED at its highest load, ranked by it', async () => {
    const result = await searchFromFlags({...base, results: dir}, context)
    const measured = result.ranked.filter((c) => c.source === 'MEASURED')
    expect(measured.map((c) => c.key)).toEqual(['8xh200 TP8xPP1 fp16 sglang on-demand'])
    // the highest output throughput of the imported levels (the operating point `report` uses, SLO unchecked)
    const files = ['sglang.json', 'sglang-2.json'].map(
      (name) => JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as {levels: {summary: {throughput: {outputTokensPerS: number}}}[]},
    )
    const best = Math.max(...files.map((file) => file.levels.at(-1)!.summary.throughput.outputTokensPerS))
    expect(measured[0]!.throughput.outputTokensPerSecond).toBeCloseTo(best, 9)
    expect(measured[0]!.throughput.basis).toContain('the SLO was not checked')
    const ranks = result.ranked.map((c) => c.monthlyCost)
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b))
    expect(result.space.engines).toEqual(['vllm', 'llamacpp', 'sglang'])
    expect(result.notes.some((note) => note.includes("the search's workload is 512 / 256"))).toBe(true)
  })

  it('without --results every candidate is ESTIMATED with a range, and the APIs are compared', async () => {
    const result = await searchFromFlags(base, context)
    expect(new Set(result.ranked.map((c) => c.source))).toEqual(new Set(['ESTIMATED']))
    for (const c of result.ranked) expect(c.throughput.low).toBeLessThan(c.throughput.high)
    expect(result.apis.options.some((api) => api.group === 'same-model')).toBe(true)
    expect(result.apis.options.some((api) => api.group === 'closed')).toBe(true)
    // no vLLM rows in the calibration set: its prior is the line of every engine on NVIDIA GPUs
    expect(result.priors['vllm on nvidia']!.group).toBe('all engines on nvidia')
    expect(result.priors['vllm on nvidia']!.n).toBeGreaterThanOrEqual(400)
  })

  it('bad input is one INVALID_INPUT / NOT_FOUND naming what is wrong', async () => {
    const noVolume = await searchFromFlags({model: 'llama-3.1-70b'}, context).catch((error: unknown) => error)
    expect(noVolume).toBeInstanceOf(CapplanError)
    expect((noVolume as CapplanError).kind).toBe('INVALID_INPUT')
    expect((noVolume as CapplanError).message).toBe('--model needs a volume to size the fleet.')
    const unknown = await searchFromFlags({...base, model: 'llama-9'}, context).catch((error: unknown) => error)
    expect((unknown as CapplanError).kind).toBe('NOT_FOUND')
    const gpu = await searchFromFlags({...base, 'gpus-available': ['h300']}, context).catch((error: unknown) => error)
    expect((gpu as CapplanError).message).toMatch(/^Unknown gpu profile "h300"/)
  })
})
