import {readdirSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {distance} from 'fastest-levenshtein'
import {isNode, LineCounter, parseDocument, visit} from 'yaml'
import type {Document} from 'yaml'
import type {z} from 'zod'

import {CapplanError, invalidInput, notFound} from '../lib/errors.js'
import {
  profileKinds,
  profileSchemas,
  pricingTiers,
  type GpuPrice,
  type GpuProfile,
  type PricingTier,
  type ProfileKind,
  type ProfileOfKind,
} from './schema.js'

/** Profile files are hand-written YAML of a few KB; anything larger is a mistake (or not a profile). */
export const MAX_PROFILE_FILE_BYTES = 1024 * 1024

/** Folder each kind lives in (built-in layout); a user dir may also use the singular name. */
export const kindFolders: Record<ProfileKind, string> = {gpu: 'gpus', model: 'models', api: 'apis', workload: 'workloads'}

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

export interface ResolvedApiPrice {
  id: string
  name: string
  variant: string | null
  inputPerMTok: number
  outputPerMTok: number
  cachedInputPerMTok?: number
  source: string
  date: string
  note?: string
}

export interface ProfileStore {
  /** All profiles of a kind, sorted by id. */
  list<K extends ProfileKind>(kind: K): ProfileOfKind<K>[]
  /** One profile; an unknown id throws NOT_FOUND naming the closest ids. */
  get<K extends ProfileKind>(kind: K, id: string): ProfileOfKind<K>
  /** The file a profile came from. */
  sourceOf(kind: ProfileKind, id: string): string
  /** Whether a profile is capplan's own or came from the user's directory (overriding a built-in or new). */
  originOf(kind: ProfileKind, id: string): ProfileOrigin
  /** Whether an id exists for a kind (no error). */
  has(kind: ProfileKind, id: string): boolean
}

/** <package root>/profiles: this module is src/profiles/load.ts or dist/profiles/load.js, both two levels down. */
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
  return typeof value === 'bigint' ? String(value) : (JSON.stringify(value) ?? String(value))
}

const isYamlFile = (name: string) => /\.ya?ml$/i.test(name)

function kindOfFolder(name: string): ProfileKind | undefined {
  return profileKinds.find((kind) => name === kindFolders[kind] || name === kind)
}

/** Profile files of a directory: <dir>/<kind>s/*.yaml (kind from the folder) and <dir>/*.yaml (kind from the file). */
function profileFilesIn(dir: string): {file: string; folderKind: ProfileKind | undefined}[] {
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
  return parseProfileText(text, file, folderKind, origin)
}

/** Parse and validate the text of one profile file (`file` names it in every problem). */
export function parseProfileText(
  text: string,
  file: string,
  folderKind: ProfileKind | undefined,
  origin: ProfileOrigin,
): {profile?: LoadedProfile; problems: ProfileProblem[]} {
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
  let data: unknown
  try {
    data = doc.toJS()
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
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return {problems: [{file, line: 1, column: 1, message: 'expected a YAML mapping with kind, id, name, ... (one profile per file)'}]}
  }
  const declaredKind = (data as {kind?: unknown}).kind
  const kind = profileKinds.find((k) => k === declaredKind)
  if (kind === undefined) {
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
  if (!parsed.success) return {problems: zodProblems(file, parsed.error, doc, lineCounter)}
  return {profile: {kind, id: parsed.data.id, profile: parsed.data, file, origin}, problems: []}
}

/** Read every profile file in a directory; never throws for bad files (see problems). */
export function scanProfileDir(dir: string, origin: ProfileOrigin): ProfileDirScan {
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
    const {profile, problems} = readProfileFile(file, folderKind, origin)
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

class MapProfileStore implements ProfileStore {
  private readonly byKind = new Map<ProfileKind, Map<string, LoadedProfile>>(profileKinds.map((kind) => [kind, new Map()]))

  /** Later entries override earlier ones with the same kind and id (user dir after built-ins). */
  constructor(entries: LoadedProfile[]) {
    for (const entry of entries) this.byKind.get(entry.kind)!.set(entry.id, entry)
  }

  private entries(kind: ProfileKind): Map<string, LoadedProfile> {
    return this.byKind.get(kind)!
  }

  private entry(kind: ProfileKind, id: string): LoadedProfile {
    const found = this.entries(kind).get(id)
    if (found !== undefined) return found
    const nearest = closestIds(id, [...this.entries(kind).keys()])
    const hint = nearest.length > 0 ? ` Closest: ${nearest.join(', ')}.` : ` There are no ${kind} profiles.`
    throw notFound(`Unknown ${kind} profile "${id}".${hint}`, `Run \`capplan profiles list --kind ${kind}\` to see every ${kind} id.`)
  }

  list<K extends ProfileKind>(kind: K): ProfileOfKind<K>[] {
    return [...this.entries(kind).values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((entry) => entry.profile as ProfileOfKind<K>)
  }

  get<K extends ProfileKind>(kind: K, id: string): ProfileOfKind<K> {
    return this.entry(kind, id).profile as ProfileOfKind<K>
  }

  has(kind: ProfileKind, id: string): boolean {
    return this.entries(kind).has(id)
  }

  sourceOf(kind: ProfileKind, id: string): string {
    return this.entry(kind, id).file
  }

  originOf(kind: ProfileKind, id: string): ProfileOrigin {
    return this.entry(kind, id).origin
  }
}

/** A store from already-validated profiles (tests and tools that build profiles in code). */
export function createProfileStore(entries: LoadedProfile[]): ProfileStore {
  return new MapProfileStore(entries)
}

/**
 * Built-in profiles, then the user's directory on top: a user profile with the same kind and id replaces the
 * built-in one. Any invalid file (built-in or user) is an INVALID_PROFILE error listing every problem.
 */
export async function loadProfiles(options: {userDir?: string} = {}): Promise<ProfileStore> {
  const scans = [scanProfileDir(builtinProfilesDir(), 'builtin')]
  if (options.userDir !== undefined && options.userDir !== '') scans.push(scanProfileDir(path.resolve(options.userDir), 'user'))
  throwIfProblems(scans.flatMap((scan) => scan.problems))
  return new MapProfileStore(scans.flatMap((scan) => scan.profiles))
}

/**
 * Edit distance to a candidate id, or to its prefix of the same length plus 1: a user who types the start of
 * an id ("lama", "h100") means the long ids that start so, which plain distance ranks below short unrelated ids.
 */
export function idDistance(typed: string, candidate: string): number {
  const a = typed.toLowerCase()
  const b = candidate.toLowerCase()
  // Prefixes one shorter and one longer too: a typo that drops or adds a letter ("lama" for "llama-...").
  const prefixes = [a.length - 1, a.length, a.length + 1].filter((n) => n > 0).map((n) => distance(a, b.slice(0, n)) + 1)
  return Math.min(distance(a, b), ...prefixes)
}

/** The `count` ids closest to `id` (ties in id order). */
export function closestIds(id: string, candidates: string[], count = 3): string[] {
  return candidates
    .map((candidate) => ({candidate, d: idDistance(id, candidate)}))
    .sort((a, b) => a.d - b.d || a.candidate.localeCompare(b.candidate))
    .slice(0, count)
    .map((x) => x.candidate)
}

/**
 * The kind of a profile id when the caller did not say: the only kind that has it. An id of several kinds
 * (deepseek-v3 is a model and an API) is INVALID_INPUT asking for --kind; an unknown id is NOT_FOUND with the
 * closest ids of every kind.
 */
export function resolveProfileKind(store: ProfileStore, id: string, kind?: ProfileKind): ProfileKind {
  if (kind !== undefined) {
    store.get(kind, id) // throws NOT_FOUND with the closest ids of that kind
    return kind
  }
  const kinds = profileKinds.filter((k) => store.has(k, id))
  if (kinds.length === 1) return kinds[0]!
  if (kinds.length > 1) {
    throw invalidInput(
      `Profile id "${id}" is used by more than one kind: ${kinds.join(', ')}.`,
      `Pick one with --kind, e.g. --kind ${kinds[0]}.`,
    )
  }
  // Labels "id (kind)" are unique even where an id is shared; distance is measured on the id alone.
  const labelled = profileKinds.flatMap((k) => store.list(k).map((p) => ({label: `${p.id} (${k})`, id: p.id})))
  const nearest = labelled
    .map((entry) => ({...entry, d: idDistance(id, entry.id)}))
    .sort((a, b) => a.d - b.d || a.label.localeCompare(b.label))
    .slice(0, 3)
    .map((entry) => entry.label)
  throw notFound(`Unknown profile "${id}". Closest: ${nearest.join(', ')}.`, 'Run `capplan profiles list` to see every id.')
}

/** "gpt-4o" -> the API's current price; "gpt-4o@seed-000" -> a named variant (e.g. the figure a seed article used). */
export function resolveApiPrice(store: ProfileStore, idWithVariant: string): ResolvedApiPrice {
  const at = idWithVariant.indexOf('@')
  const id = at === -1 ? idWithVariant : idWithVariant.slice(0, at)
  const variantId = at === -1 ? null : idWithVariant.slice(at + 1)
  const api = store.get('api', id)
  if (variantId === null) {
    const {price} = api
    return {
      id: api.id,
      name: api.name,
      variant: null,
      inputPerMTok: price.inputPerMTok,
      outputPerMTok: price.outputPerMTok,
      ...(price.cachedInputPerMTok === undefined ? {} : {cachedInputPerMTok: price.cachedInputPerMTok}),
      source: price.source,
      date: price.date,
      ...(price.note === undefined ? {} : {note: price.note}),
    }
  }
  const variant = api.variants.find((v) => v.id === variantId)
  if (variant === undefined) {
    const known = api.variants.map((v) => `${api.id}@${v.id}`)
    throw notFound(
      `API "${api.id}" has no price variant "${variantId}". ${known.length > 0 ? `Variants: ${known.join(', ')}.` : 'It has no variants.'}`,
      `Use "${api.id}" for its current price${known.length > 0 ? ` or one of ${known.join(', ')}` : ''} (\`capplan profiles show ${api.id}\`).`,
    )
  }
  return {
    id: api.id,
    name: api.name,
    variant: variant.id,
    inputPerMTok: variant.inputPerMTok,
    outputPerMTok: variant.outputPerMTok,
    source: variant.source,
    date: variant.date,
    ...(variant.note === undefined ? {} : {note: variant.note}),
  }
}

/** The $/GPU-hour of a pricing tier; a tier the profile has no price for is the user's to choose differently. */
export function gpuHourlyPrice(gpu: GpuProfile, tier: PricingTier): GpuPrice {
  const price = gpu.prices[tier]
  if (price !== null && price !== undefined) return price
  const available = pricingTiers.filter((t) => gpu.prices[t] !== null)
  throw invalidInput(
    `GPU profile "${gpu.id}" has no ${tier} price. ${available.length > 0 ? `It has: ${available.join(', ')}.` : 'It has no prices at all.'}`,
    available.length > 0
      ? `Use --pricing ${available.join('|')}, or give the price yourself with --gpu-price.`
      : 'Give the price yourself with --gpu-price, or add prices to the profile with --profiles DIR.',
  )
}

const normalizeDeviceName = (name: string) => name.trim().replace(/\s+/g, ' ').toLowerCase()

/** The GPU profile whose deviceNames contain what nvidia-smi / rocm-smi printed (case and spacing ignored). */
export function detectGpuProfile(store: ProfileStore, deviceName: string): GpuProfile | undefined {
  const wanted = normalizeDeviceName(deviceName)
  if (wanted === '') return undefined
  return store.list('gpu').find((gpu) => gpu.deviceNames.some((name) => normalizeDeviceName(name) === wanted))
}
