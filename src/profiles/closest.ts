/** "Did you mean": the ids closest to what a user typed. */

import {distance} from 'fastest-levenshtein'

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
