import {mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {listProfiles, renderProfile, renderValidatedFiles, showProfile, validateProfiles, validSummary, type ValidatedFile} from '../../../../src/services/profiles/profiles.js'

const root = path.resolve(import.meta.dirname, '../../../..')

describe('profiles list and show', () => {
  it('lists one kind (or all) with a table per kind', async () => {
    const {listings, text} = await listProfiles(undefined, 'gpu')
    expect(listings.every((listing) => listing.kind === 'gpu')).toBe(true)
    expect(listings.map((listing) => listing.id)).toContain('h100-sxm')
    expect(text.startsWith('gpus\n')).toBe(true)
    const all = await listProfiles(undefined, undefined)
    expect(new Set(all.listings.map((listing) => listing.kind))).toEqual(new Set(['gpu', 'model', 'api', 'workload', 'quant-loss', 'calibration']))
  })

  it('shows one profile with its source; an id two kinds use needs the kind', async () => {
    const listing = await showProfile(undefined, 'h100-sxm', undefined)
    expect(renderProfile(listing)[0]).toBe(`# gpu h100-sxm (builtin: ${listing.source.file})`)
    await expect(showProfile(undefined, 'deepseek-v3', undefined)).rejects.toThrow('Profile id "deepseek-v3" is used by more than one kind: model, api.')
    expect((await showProfile(undefined, 'deepseek-v3', 'api')).kind).toBe('api')
  })
})

describe('profiles validate', () => {
  it('shows every file before refusing the directory (INVALID_PROFILE)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-validate-'))
    mkdirSync(path.join(dir, 'gpus'))
    mkdirSync(path.join(dir, 'workloads'))
    writeFileSync(path.join(dir, 'gpus', 'h100-sxm.yaml'), readFileSync(path.join(root, 'profiles', 'gpus', 'h100-sxm.yaml')))
    writeFileSync(path.join(dir, 'workloads', 'broken.yaml'), 'kind: workload\nid: broken\nname: [unclosed\n')
    let shown: ValidatedFile[] = []
    expect(() => validateProfiles(dir, undefined, (files) => (shown = files))).toThrow(/broken\.yaml/)
    expect(renderValidatedFiles(shown)).toEqual([`OK    ${path.join(dir, 'gpus', 'h100-sxm.yaml')}`, `FAIL  ${path.join(dir, 'workloads', 'broken.yaml')} (1 problem)`])
  })

  it('the built-ins are valid; an empty directory is NOT_FOUND', () => {
    const result = validateProfiles(undefined, undefined, () => {})
    expect(result.valid).toBe(true)
    expect(validSummary(result)).toBe(`${result.files.length} profile files valid.`)
    const empty = mkdtempSync(path.join(tmpdir(), 'capplan-empty-'))
    expect(() => validateProfiles(empty, undefined, () => {})).toThrow(`No profile files (*.yaml, *.yml) in ${empty}.`)
  })
})
