/**
 * The profile store: validated profiles looked up by kind and id (an unknown id names the closest ones). Pure:
 * loading them from disk is load.ts's.
 */

import {invalidInput, notFound} from '../lib/errors.js'
import {closestIds, idDistance} from './closest.js'
import type {LoadedProfile, ProfileOrigin} from './files.js'
import {type GpuProfile, profileKinds, type ProfileKind, type ProfileOfKind} from './schema.js'

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

const normalizeDeviceName = (name: string) => name.trim().replace(/\s+/g, ' ').toLowerCase()

/** The GPU profile whose deviceNames contain what nvidia-smi / rocm-smi printed (case and spacing ignored). */
export function detectGpuProfile(store: ProfileStore, deviceName: string): GpuProfile | undefined {
  const wanted = normalizeDeviceName(deviceName)
  if (wanted === '') return undefined
  return store.list('gpu').find((gpu) => gpu.deviceNames.some((name) => normalizeDeviceName(name) === wanted))
}
