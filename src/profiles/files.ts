/**
 * Profile files: YAML read and validated against the zod schemas, every problem located at file:line:column
 * (a scan reports all of them, never just the first). A scan may take a ProfileCache (cache.ts: the built-in
 * files' YAML as data, written by `npm run build`): a file whose text has the digest the cache holds skips the
 * YAML parser, and its data goes through the same kind checks and zod schema as a parsed file's.
 */

import {createHash} from 'node:crypto'
import {readdirSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {isNode, LineCounter, parseDocument, visit} from 'yaml'
import type {Document} from 'yaml'
import type {z} from 'zod'

import {CapplanError, invalidInput, notFound} from '../lib/errors.js'
import {profileKinds, profileSchemas, type ProfileKind, type ProfileOfKind} from './schema.js'

/** Profile files are hand-written YAML of a few KB; anything larger is a mistake (or not a profile). */
export const MAX_PROFILE_FILE_BYTES = 1024 * 1024

/** The YAML of some profile files as data (what `parseDocument(text).toJS()` gives), by path relative to the scanned dir. */
export type ProfileCache = ReadonlyMap<string, {sha1: string; data: unknown}>

/** The digest a ProfileCache entry is keyed on: sha1 of the file's text. */
export function profileTextDigest(text: string): string {
  return createHash('sha1').update(text).digest('hex')
}

/** Folder each kind lives in (built-in layout); a user dir may also use the singular name. */
export const kindFolders: Record<ProfileKind, string> = {gpu: 'gpus', model: 'models', api: 'apis', workload: 'workloads', 'quant-loss': 'quant-loss', calibration: 'calibration'}

export type ProfileOrigin = 'builtin' | 'user'

/** One thing wrong with one profile file, located as precisely as the file allows. */
export interface ProfileProblem {
  file: string
  /** 1-based, when the problem points at a place in the file. */
  line?: number
  column?: number
  /** Dotted field path for schema violations, e.g. `prices.spot.usdPerHour`. */
  field?: string
  message: string
}

export interface LoadedProfile<K extends ProfileKind = ProfileKind> {
  kind: K
  id: string
  profile: ProfileOfKind<K>
  file: string
  origin: ProfileOrigin
}

/** Every profile file found in one directory: the valid ones and all problems (nothing thrown). */
export interface ProfileDirScan {
  dir: string
  files: string[]
  profiles: LoadedProfile[]
  problems: ProfileProblem[]
}

/** <package root>/profiles: this module is src/profiles/files.ts or dist/profiles/files.js, both two levels down. */
export function builtinProfilesDir(): string {
  return fileURLToPath(new URL('../../profiles/', import.meta.url)).replace(/[\\/]$/, '')
}

export function formatProblem(problem: ProfileProblem): string {
  const where = problem.line === undefined ? problem.file : `${problem.file}:${problem.line}:${problem.column ?? 1}`
  return problem.field === undefined ? `${where}: ${problem.message}` : `${where}: ${problem.field}: ${problem.message}`
}

/** A value for a message: scalars as written, collections by kind (they may be huge, or circular through aliases). */
function describeYamlValue(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object' && value !== null && !(value instanceof Date)) return 'a mapping'
  // JSON.stringify gives undefined only for functions and symbols, which String() names well.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  return typeof value === 'bigint' ? String(value) : (JSON.stringify(value) ?? String(value))
}

const isYamlFile = (name: string) => /\.ya?ml$/i.test(name)

function kindOfFolder(name: string): ProfileKind | undefined {
  return profileKinds.find((kind) => name === kindFolders[kind] || name === kind)
}

/** Profile files of a directory: <dir>/<kind>s/*.yaml (kind from the folder) and <dir>/*.yaml (kind from the file). */
export function profileFilesIn(dir: string): {file: string; folderKind: ProfileKind | undefined}[] {
  const files: {file: string; folderKind: ProfileKind | undefined}[] = []
  for (const entry of readdirSync(dir, {withFileTypes: true}).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) {
      const folderKind = kindOfFolder(entry.name)
      if (folderKind === undefined) continue
      for (const name of readdirSync(full).sort()) {
        if (isYamlFile(name)) files.push({file: path.join(full, name), folderKind})
      }
    } else if (isYamlFile(entry.name)) {
      files.push({file: full, folderKind: undefined})
    }
  }
  return files
}

function positionOf(offset: number | undefined, lineCounter: LineCounter): {line?: number; column?: number} {
  if (offset === undefined) return {}
  const {line, col} = lineCounter.linePos(offset)
  return {line, column: col}
}

/** The deepest node of `fieldPath` that exists in the document: a missing field points at its parent. */
function offsetOfField(doc: Document, fieldPath: readonly PropertyKey[]): number | undefined {
  for (let depth = fieldPath.length; depth >= 0; depth--) {
    const node = doc.getIn(fieldPath.slice(0, depth) as unknown[], true)
    if (isNode(node) && node.range) return node.range[0]
  }
  return undefined
}

function zodProblems(file: string, error: z.ZodError, doc: Document, lineCounter: LineCounter): ProfileProblem[] {
  return error.issues.map((issue) => {
    const fieldPath = issue.path
    // zod reports an unknown key on its parent object; name the key itself, it is what the user must fix.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : []
    const shownPath = keys.length === 1 ? [...fieldPath, keys[0] as string] : fieldPath
    const field = shownPath.length > 0 ? shownPath.map(String).join('.') : '(top level)'
    // zod says "expected string, received undefined"; for a person the field is simply missing.
    const missing = issue.code !== 'unrecognized_keys' && fieldPath.length > 0 && !doc.hasIn(fieldPath as unknown[])
    const expected = issue.code === 'invalid_type' ? `${issue.expected} expected` : issue.message
    const message = missing ? `required field is missing (${expected})` : issue.message
    return {file, field, message, ...positionOf(offsetOfField(doc, shownPath), lineCounter)}
  })
}

/** Read, parse and validate one profile file; problems instead of exceptions so a scan can report all of them. */
export function readProfileFile(
  file: string,
  folderKind: ProfileKind | undefined,
  origin: ProfileOrigin,
  cached?: {sha1: string; data: unknown},
): {profile?: LoadedProfile; problems: ProfileProblem[]} {
  let text: string
  try {
    const stats = statSync(file)
    if (!stats.isFile()) return {problems: [{file, message: 'not a regular file'}]}
    // stat before reading: a huge file (a model dumped in the wrong folder) is refused without loading it
    if (stats.size > MAX_PROFILE_FILE_BYTES) {
      return {problems: [{file, message: `file is ${stats.size} bytes; a profile file may be at most 1 MiB`}]}
    }
    text = readFileSync(file, 'utf8')
  } catch (error) {
    return {problems: [{file, message: `cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`}]}
  }
  if (cached !== undefined && cached.sha1 === profileTextDigest(text)) return validateProfileData(cached.data, text, file, folderKind, origin)
  return parseProfileText(text, file, folderKind, origin)
}

/** A file's text as a YAML document and its data, or its YAML problems (located). */
export function parseProfileYaml(text: string, file: string): {doc: Document; lineCounter: LineCounter; data: unknown} | {problems: ProfileProblem[]} {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {lineCounter, prettyErrors: false})
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((error) => ({
        file,
        message: `malformed YAML: ${error.message}`,
        ...positionOf(error.pos[0], lineCounter),
      })),
    }
  }
  try {
    return {doc, lineCounter, data: doc.toJS()}
  } catch (error) {
    // The yaml library throws here, not in doc.errors, for an alias without its anchor and for an alias bomb
    // (expansion past its limit): a problem at the first alias, like any other malformed YAML.
    let aliasOffset: number | undefined
    visit(doc, {
      Alias: (_key, node) => {
        aliasOffset = node.range?.[0]
        return visit.BREAK
      },
    })
    return {problems: [{file, message: `malformed YAML: ${(error as Error).message}`, ...positionOf(aliasOffset ?? 0, lineCounter)}]}
  }
}

/** Parse and validate the text of one profile file (`file` names it in every problem). */
export function parseProfileText(
  text: string,
  file: string,
  folderKind: ProfileKind | undefined,
  origin: ProfileOrigin,
): {profile?: LoadedProfile; problems: ProfileProblem[]} {
  const parsed = parseProfileYaml(text, file)
  if ('problems' in parsed) return {problems: parsed.problems}
  return validateProfileData(parsed.data, text, file, folderKind, origin, parsed)
}

/**
 * A file's data (parsed from `text`, or the cache's for that text) through the kind checks and the zod schema.
 * Problems are located in the YAML document, parsed here when the caller has none (the data came from a cache).
 */
function validateProfileData(
  data: unknown,
  text: string,
  file: string,
  folderKind: ProfileKind | undefined,
  origin: ProfileOrigin,
  parsedYaml?: {doc: Document; lineCounter: LineCounter},
): {profile?: LoadedProfile; problems: ProfileProblem[]} {
  let located = parsedYaml
  const locate = (): {doc: Document; lineCounter: LineCounter} => {
    if (located === undefined) {
      const lineCounter = new LineCounter()
      located = {doc: parseDocument(text, {lineCounter, prettyErrors: false}), lineCounter}
    }
    return located
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return {problems: [{file, line: 1, column: 1, message: 'expected a YAML mapping with kind, id, name, ... (one profile per file)'}]}
  }
  const declaredKind = (data as {kind?: unknown}).kind
  const kind = profileKinds.find((k) => k === declaredKind)
  if (kind === undefined) {
    const {doc, lineCounter} = locate()
    return {
      problems: [
        {
          file,
          field: 'kind',
          message: `must be one of ${profileKinds.join(', ')} (got ${describeYamlValue(declaredKind)})`,
          ...positionOf(offsetOfField(doc, ['kind']), lineCounter),
        },
      ],
    }
  }
  if (folderKind !== undefined && kind !== folderKind) {
    const {doc, lineCounter} = locate()
    return {
      problems: [
        {
          file,
          field: 'kind',
          message: `is "${kind}" but the file is in the ${kindFolders[folderKind]}/ folder; move it to ${kindFolders[kind]}/ or fix the kind`,
          ...positionOf(offsetOfField(doc, ['kind']), lineCounter),
        },
      ],
    }
  }
  const parsed = profileSchemas[kind].safeParse(data)
  if (!parsed.success) {
    const {doc, lineCounter} = locate()
    return {problems: zodProblems(file, parsed.error, doc, lineCounter)}
  }
  return {profile: {kind, id: parsed.data.id, profile: parsed.data, file, origin}, problems: []}
}

/**
 * Read every profile file in a directory; never throws for bad files (see problems). With a cache, a file whose
 * text matches its entry (by digest) skips the YAML parser (readProfileFile).
 */
export function scanProfileDir(dir: string, origin: ProfileOrigin, cache?: ProfileCache): ProfileDirScan {
  let stats
  try {
    stats = statSync(dir)
  } catch {
    throw notFound(
      `Profile directory ${dir} does not exist.`,
      'Pass an existing directory with --profiles (or CAPPLAN_PROFILES); it holds gpus/, models/, apis/, workloads/ with one YAML file per profile.',
    )
  }
  if (!stats.isDirectory()) {
    throw invalidInput(`Profile directory ${dir} is a file, not a directory.`, 'Pass the directory that holds gpus/, models/, apis/, workloads/.')
  }
  const scan: ProfileDirScan = {dir, files: [], profiles: [], problems: []}
  const firstFileById = new Map<string, string>()
  for (const {file, folderKind} of profileFilesIn(dir)) {
    scan.files.push(file)
    const {profile, problems} = readProfileFile(file, folderKind, origin, cache?.get(path.relative(dir, file).split(path.sep).join('/')))
    scan.problems.push(...problems)
    if (profile === undefined) continue
    const key = `${profile.kind}:${profile.id}`
    const first = firstFileById.get(key)
    if (first !== undefined) {
      scan.problems.push({file, field: 'id', message: `duplicate ${profile.kind} id "${profile.id}": also defined in ${first}`})
      continue
    }
    firstFileById.set(key, file)
    scan.profiles.push(profile)
  }
  return scan
}

/** INVALID_PROFILE listing every problem; under --json the problems also come as structured data. */
export class ProfileValidationError extends CapplanError {
  readonly problems: ProfileProblem[]

  constructor(problems: ProfileProblem[]) {
    const files = new Set(problems.map((p) => p.file))
    super(
      'INVALID_PROFILE',
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${files.size} profile file${files.size === 1 ? '' : 's'}:\n  ${problems.map(formatProblem).join('\n  ')}`,
      'Fix the fields named above (`capplan profiles validate` re-checks them all); the schema is src/profiles/schema.ts.',
    )
    this.problems = problems
  }

  override toJSON(): ReturnType<CapplanError['toJSON']> & {problems: ProfileProblem[]} {
    return {...super.toJSON(), problems: this.problems}
  }
}

/** Throw one INVALID_PROFILE error that lists every problem (a user fixes them all in one pass). */
export function throwIfProblems(problems: ProfileProblem[]): void {
  if (problems.length > 0) throw new ProfileValidationError(problems)
}
