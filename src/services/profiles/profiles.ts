/**
 * `capplan profiles list | show | validate`: the built-in profiles plus the user's (--profiles DIR), as
 * listings and tables, one profile in full, or every file of a directory checked with all its problems.
 */

import {stringify} from 'yaml'

import {notFound} from '../../lib/errors.js'
import {builtinProfilesDir, scanProfileDir, throwIfProblems, type ProfileDirScan} from '../../profiles/files.js'
import {loadProfiles} from '../../profiles/load.js'
import {listingOf, renderProfileTable, type ProfileListing} from '../../profiles/render.js'
import {profileKinds, type ProfileKind} from '../../profiles/schema.js'
import {resolveProfileKind} from '../../profiles/store.js'

export type {ProfileListing} from '../../profiles/render.js'

export interface ProfilesListing {
  /** Every profile of the kinds asked for: the --json payload. */
  listings: ProfileListing[]
  /** One table per kind, as `profiles list` prints them. */
  text: string
}

/** Every kind (or just `kind`): its profiles, built-in and the user's. */
export async function listProfiles(profilesDir: string | undefined, kind: ProfileKind | undefined): Promise<ProfilesListing> {
  const store = await loadProfiles({userDir: profilesDir})
  const kinds = kind === undefined ? profileKinds : [kind]
  return {
    listings: kinds.flatMap((k) => store.list(k).map((profile) => listingOf(store, k, profile.id))),
    text: kinds.map((k) => `${k}s\n${renderProfileTable(store, k)}`).join('\n\n'),
  }
}

/** One profile by id; an id two kinds use needs `kind` (NOT_FOUND with the closest ids otherwise). */
export async function showProfile(profilesDir: string | undefined, id: string, kind: ProfileKind | undefined): Promise<ProfileListing> {
  const store = await loadProfiles({userDir: profilesDir})
  return listingOf(store, resolveProfileKind(store, id, kind), id)
}

/** A heading with where the profile comes from, then every field as YAML. */
export function renderProfile(listing: ProfileListing): string[] {
  return [`# ${listing.kind} ${listing.id} (${listing.source.origin}: ${listing.source.file})`, stringify(listing.profile, {lineWidth: 0}).trimEnd()]
}

export interface ValidatedFile {
  file: string
  ok: boolean
  problems: number
}

export interface ValidateResult {
  valid: true
  directories: string[]
  files: ValidatedFile[]
}

/**
 * Scan `dir` (else the built-ins and the user's directory), show every file's verdict through `show`, then
 * throw INVALID_PROFILE naming every problem when any file is invalid (NOT_FOUND when there are no files).
 */
export function validateProfiles(dir: string | undefined, profilesDir: string | undefined, show: (files: ValidatedFile[]) => void): ValidateResult {
  const scans: ProfileDirScan[] = []
  if (dir === undefined) {
    scans.push(scanProfileDir(builtinProfilesDir(), 'builtin'))
    if (profilesDir) scans.push(scanProfileDir(profilesDir, 'user'))
  } else {
    scans.push(scanProfileDir(dir, 'user'))
  }
  const fileCount = scans.reduce((n, scan) => n + scan.files.length, 0)
  if (fileCount === 0) {
    throw notFound(
      `No profile files (*.yaml, *.yml) in ${scans.map((scan) => scan.dir).join(', ')}.`,
      'Put one profile per file under gpus/, models/, apis/ or workloads/ (see profiles/ in capplan for examples).',
    )
  }
  const problems = scans.flatMap((scan) => scan.problems)
  const files = scans.flatMap((scan) =>
    scan.files.map((file) => {
      const count = problems.filter((p) => p.file === file).length
      return {file, ok: count === 0, problems: count}
    }),
  )
  show(files)
  throwIfProblems(problems)
  return {valid: true, directories: scans.map((scan) => scan.dir), files}
}

export function renderValidatedFiles(files: readonly ValidatedFile[]): string[] {
  return files.map((f) => (f.ok ? `OK    ${f.file}` : `FAIL  ${f.file} (${f.problems} problem${f.problems === 1 ? '' : 's'})`))
}

export function validSummary({files}: ValidateResult): string {
  return `${files.length} profile file${files.length === 1 ? '' : 's'} valid.`
}
