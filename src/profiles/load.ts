/** Profiles from disk: capplan's built-in directory, then the user's (--profiles / CAPPLAN_PROFILES) on top. */

import path from 'node:path'

import {readProfileCache} from './cache.js'
import {builtinProfilesDir, scanProfileDir, throwIfProblems} from './files.js'
import {createProfileStore, type ProfileStore} from './store.js'

/**
 * Built-in profiles, then the user's directory on top: a user profile with the same kind and id replaces the
 * built-in one. Any invalid file (built-in or user) is an INVALID_PROFILE error listing every problem. The
 * built-ins come through dist/profile-cache.json where their text is unchanged (cache.ts).
 */
export async function loadProfiles(options: {userDir?: string} = {}): Promise<ProfileStore> {
  const scans = [scanProfileDir(builtinProfilesDir(), 'builtin', readProfileCache())]
  if (options.userDir !== undefined && options.userDir !== '') scans.push(scanProfileDir(path.resolve(options.userDir), 'user'))
  throwIfProblems(scans.flatMap((scan) => scan.problems))
  return createProfileStore(scans.flatMap((scan) => scan.profiles))
}
