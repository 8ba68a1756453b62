/**
 * The built-in profiles' YAML as data: dist/profile-cache.json, written by `npm run build`
 * (bin/write-profile-cache.js) from profiles/. The YAML stays the source of truth: each entry carries the sha1
 * of the text it was parsed from, and a file whose text no longer has that digest is parsed as YAML again
 * (files.ts readProfileFile); a cached file's data still goes through the kind checks and the zod schema. It
 * saves the YAML parser only (~90% of loading the built-ins: 91 files, the calibration tables the largest).
 * test/unit/profiles/cache.test.ts checks the written file agrees with the YAML.
 */

import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {isDeepStrictEqual} from 'node:util'

import {z} from 'zod'

import {builtinProfilesDir, parseProfileYaml, profileFilesIn, profileTextDigest, type ProfileCache} from './files.js'

export const PROFILE_CACHE_FORMAT = 'capplan-profile-cache/1'

/** The cache file's format. */
export const profileCacheFileSchema = z.object({
  format: z.literal(PROFILE_CACHE_FORMAT),
  /** Path relative to the profiles dir ("/"-separated) -> the sha1 of its text and its YAML as data. */
  files: z.record(z.string(), z.object({sha1: z.string().regex(/^[0-9a-f]{40}$/), data: z.unknown()})),
})
export type ProfileCacheFile = z.infer<typeof profileCacheFileSchema>

/** <package root>/dist/profile-cache.json (this module is src/profiles/cache.ts or dist/profiles/cache.js). */
export function builtinProfileCachePath(): string {
  return fileURLToPath(new URL('../../dist/profile-cache.json', import.meta.url))
}

/**
 * Every YAML file of a profiles dir that parses, as a cache entry; a file with YAML errors, or whose data JSON
 * cannot carry as it is (.inf, .nan), is left out (it is parsed as YAML every time).
 */
export function buildProfileCache(dir: string): ProfileCacheFile {
  const files: ProfileCacheFile['files'] = {}
  for (const {file} of profileFilesIn(dir)) {
    const text = readFileSync(file, 'utf8')
    const parsed = parseProfileYaml(text, file)
    if ('problems' in parsed || !isDeepStrictEqual(JSON.parse(JSON.stringify(parsed.data)), parsed.data)) continue
    files[path.relative(dir, file).split(path.sep).join('/')] = {sha1: profileTextDigest(text), data: parsed.data}
  }
  return {format: PROFILE_CACHE_FORMAT, files}
}

export function writeProfileCache(dir: string = builtinProfilesDir(), file: string = builtinProfileCachePath()): ProfileCacheFile {
  const cache = buildProfileCache(dir)
  writeFileSync(file, `${JSON.stringify(cache)}\n`)
  return cache
}

/** The cache file as a ProfileCache; undefined when it is missing or not of this format (then every file is parsed as YAML). */
export function readProfileCache(file: string = builtinProfileCachePath()): ProfileCache | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return undefined
  }
  const parsed = profileCacheFileSchema.safeParse(json)
  return parsed.success ? new Map(Object.entries(parsed.data.files)) : undefined
}
