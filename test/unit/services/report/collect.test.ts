import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {peers} from '../../../helpers/cli.js'

import {loadProfiles} from '../../../../src/profiles/load.js'
import {type ProfileStore} from '../../../../src/profiles/store.js'
import {collectResultFiles, loadResultFiles, reportOptions, reportOptionsFromFlags} from '../../../../src/services/report/collect.js'

let store: ProfileStore
beforeAll(async () => {
  store = await loadProfiles()
})

describe('collectResultFiles', () => {
  it('walks directories recursively for .json/.jsonl, skips hidden entries and other files, sorted', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-collect-'))
    mkdirSync(path.join(dir, 'sub'))
    mkdirSync(path.join(dir, '.hidden'))
    for (const name of ['b.json', 'a.jsonl', 'README.md', '.dot.json', 'sub/c.json', '.hidden/d.json']) writeFileSync(path.join(dir, name), '{}')
    const files = await collectResultFiles([dir])
    expect(files.map((file) => path.relative(dir, file))).toEqual(['a.jsonl', 'b.json', path.join('sub', 'c.json')])
  })

  it('takes a file as given and names a missing path (NOT_FOUND)', async () => {
    await expect(collectResultFiles(['/nonexistent/x.json'])).rejects.toThrow('/nonexistent/x.json does not exist.')
  })
})

/** reportOptions dates the choices (for the stale-price warnings): today, UTC. */
const today = expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) as unknown as string

describe('reportOptionsFromFlags', () => {
  it('parses the SLO, percentile and interpolation, and keeps the cost flags as text', () => {
    const options = reportOptionsFromFlags({slo: 'ttft=1.5s,tpot=40ms', percentile: 'p99', 'no-interpolate': true, volume: '2B', gpus: '4'}, store)
    expect(options).toEqual({slo: {ttftMs: 1500, tpotMs: 40}, percentile: 'p99', interpolate: false, plan: {monthlyVolumeTokens: 2_000_000_000, today}, gpusOverride: 4})
  })

  it('rejects bad cost flags before any file is read (INVALID_INPUT / NOT_FOUND)', () => {
    expect(() => reportOptionsFromFlags({utilization: '1.5'}, store)).toThrow('--utilization must be at most 1 (got "1.5").')
    expect(() => reportOptionsFromFlags({gpus: '0'}, store)).toThrow('--gpus must be a whole number >= 1 (got "0").')
    expect(() => reportOptionsFromFlags({gpu: 'h100-sxmm'}, store)).toThrow(/h100-sxmm/)
    // --pricing without --gpu is allowed: it applies to each result's detected GPU profile
    expect(reportOptionsFromFlags({pricing: 'spot'}, store).plan).toEqual({pricing: 'spot', today})
  })
})

describe('reportOptions (the values oclif parsed)', () => {
  it("turns the values into ReportOptions; report's --gpus overrides each result instead of the plan's GPUs", () => {
    const options = reportOptions({slo: {tpotMs: 40}, volume: 2_000_000, api: ['gpt-4o'], gpus: 2, bandwidth: 20, 'what-if': ['h200', 'h200']}, store)
    expect(options).toEqual({
      bandwidthGBs: 20,
      whatIf: ['h200'],
      slo: {tpotMs: 40},
      interpolate: true,
      plan: {monthlyVolumeTokens: 2_000_000, apis: ['gpt-4o'], today},
      gpusOverride: 2,
    })
  })

  it('checks the rules between flags: pairs, the cost model, the --what-if profiles', () => {
    expect(() => reportOptions({'gpu-price': 1, pricing: 'spot'}, store)).toThrow('--pricing and --gpu-price cannot be used together.')
    expect(() => reportOptions({volume: 1, 'daily-volume': 1}, store)).toThrow('--volume and --daily-volume cannot be used together.')
    expect(() => reportOptions({'what-if': ['h300']}, store)).toThrow('--what-if: no GPU profile "h300".')
  })
})

describe('loadResultFiles', () => {
  it('maps each readable file and lists the unreadable ones with their reason', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-load-'))
    writeFileSync(path.join(dir, 'bad.json'), '{')
    const files = [path.join(peers, 'llama_bench.json'), path.join(dir, 'bad.json')]
    const {loaded, invalid} = await loadResultFiles(files, {capplanVersion: '0.1.0', command: ['capplan', 'report'], store}, ({source}) => source)
    expect(loaded.length).toBeGreaterThan(0)
    expect(loaded.every((source) => source.startsWith(path.join(peers, 'llama_bench.json')))).toBe(true)
    expect(invalid).toEqual([expect.objectContaining({file: path.join(dir, 'bad.json')})])
  })
})
