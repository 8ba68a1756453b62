import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {loadProfiles} from '../../../../src/profiles/load.js'
import {type ProfileStore} from '../../../../src/profiles/store.js'
import {collectResultFiles, reportOptionsFromFlags} from '../../../../src/services/report/collect.js'

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

describe('reportOptionsFromFlags', () => {
  it('parses the SLO, percentile and interpolation, and keeps the cost flags as text', () => {
    const options = reportOptionsFromFlags({slo: 'ttft=1.5s,tpot=40ms', percentile: 'p99', 'no-interpolate': true, volume: '2B', gpus: '4'}, store)
    expect(options).toEqual({slo: {ttftMs: 1500, tpotMs: 40}, percentile: 'p99', interpolate: false, plan: {monthlyVolumeTokens: 2_000_000_000}, gpusOverride: 4})
  })

  it('rejects bad cost flags before any file is read (INVALID_INPUT / NOT_FOUND)', () => {
    expect(() => reportOptionsFromFlags({utilization: '1.5'}, store)).toThrow('--utilization must be at most 1 (got "1.5").')
    expect(() => reportOptionsFromFlags({gpus: '0'}, store)).toThrow('--gpus must be a whole number >= 1 (got "0").')
    expect(() => reportOptionsFromFlags({gpu: 'h100-sxmm'}, store)).toThrow(/h100-sxmm/)
    // --pricing without --gpu is allowed: it applies to each result's detected GPU profile
    expect(reportOptionsFromFlags({pricing: 'spot'}, store).plan).toEqual({pricing: 'spot'})
  })
})
