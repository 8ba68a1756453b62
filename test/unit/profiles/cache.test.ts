import {mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'
import {parseDocument} from 'yaml'

import {buildProfileCache, builtinProfileCachePath, profileCacheFileSchema, readProfileCache} from '../../../src/profiles/cache.js'
import {builtinProfilesDir, profileFilesIn, profileTextDigest, scanProfileDir} from '../../../src/profiles/files.js'

const tmp = mkdtempSync(path.join(tmpdir(), 'capplan-profile-cache-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

const relative = (dir: string, file: string) => path.relative(dir, file).split(path.sep).join('/')

describe('dist/profile-cache.json (written by npm run build) agrees with the YAML in profiles/', () => {
  // `npm test` builds first; the file is what a shipped capplan loads its built-ins from.
  const cache = profileCacheFileSchema.parse(JSON.parse(readFileSync(builtinProfileCachePath(), 'utf8')))
  const dir = builtinProfilesDir()
  const files = profileFilesIn(dir)

  it('has every built-in file, each with the digest of its current text and the data the YAML parser gives', () => {
    expect(Object.keys(cache.files).sort()).toEqual(files.map(({file}) => relative(dir, file)).sort())
    for (const {file} of files) {
      const text = readFileSync(file, 'utf8')
      const entry = cache.files[relative(dir, file)]!
      expect(entry.sha1, file).toBe(profileTextDigest(text))
      expect(entry.data, file).toEqual(parseDocument(text).toJS())
    }
  })

  it('a scan through the cache gives the same profiles as a scan of the YAML alone', () => {
    const viaCache = scanProfileDir(dir, 'builtin', readProfileCache())
    const viaYaml = scanProfileDir(dir, 'builtin')
    expect(viaCache.problems).toEqual([])
    expect(viaCache.profiles).toEqual(viaYaml.profiles)
  })
})

describe('the cache is used only for the text it was made from', () => {
  const dir = path.join(tmp, 'profiles')
  mkdirSync(path.join(dir, 'workloads'), {recursive: true})
  const workload = (id: string, inputTokens: number) =>
    [
      'kind: workload',
      `id: ${id}`,
      'name: Cached test',
      'description: a workload for the cache test',
      `inputTokens: ${inputTokens}`,
      'outputTokens: 100',
      'slo: {ttftP95Ms: 1000, tpotP95Ms: 50, e2eP95Ms: null}',
      'source: test',
      '',
    ].join('\n')
  const file = path.join(dir, 'workloads', 't.yaml')
  writeFileSync(file, workload('t', 500))
  const cacheFile = path.join(tmp, 'cache.json')
  writeFileSync(cacheFile, JSON.stringify(buildProfileCache(dir)))

  it('an entry whose digest matches the text gives its data (through the schema)', () => {
    const entry = readProfileCache(cacheFile)!.get('workloads/t.yaml')!
    // a cache that says something else for the SAME text: proof the parser was skipped
    const doctored = new Map([['workloads/t.yaml', {sha1: entry.sha1, data: {...(entry.data as object), inputTokens: 777}}]])
    const scan = scanProfileDir(dir, 'user', doctored)
    expect(scan.problems).toEqual([])
    expect(scan.profiles[0]!.profile).toMatchObject({id: 't', inputTokens: 777})
  })

  it('a file edited since the cache was written is parsed as YAML', () => {
    writeFileSync(file, workload('t', 900))
    const scan = scanProfileDir(dir, 'user', readProfileCache(cacheFile))
    expect(scan.profiles[0]!.profile).toMatchObject({id: 't', inputTokens: 900})
  })

  it('cached data the schema refuses is a problem located in the YAML, as without the cache', () => {
    writeFileSync(file, workload('t', 500).replace('inputTokens: 500', 'inputTokens: -5'))
    const bad = scanProfileDir(dir, 'user')
    const viaCache = scanProfileDir(dir, 'user', new Map([['workloads/t.yaml', {sha1: profileTextDigest(readFileSync(file, 'utf8')), data: parseDocument(readFileSync(file, 'utf8')).toJS()}]]))
    expect(bad.problems.length).toBeGreaterThan(0)
    expect(bad.problems[0]!.line).toBe(5)
    expect(viaCache.problems).toEqual(bad.problems)
  })

  it('a missing or malformed cache file is no cache', () => {
    expect(readProfileCache(path.join(tmp, 'none.json'))).toBeUndefined()
    writeFileSync(path.join(tmp, 'bad.json'), '{"format": "something else", "files": {}}')
    expect(readProfileCache(path.join(tmp, 'bad.json'))).toBeUndefined()
    writeFileSync(path.join(tmp, 'broken.json'), '{')
    expect(readProfileCache(path.join(tmp, 'broken.json'))).toBeUndefined()
  })
})
