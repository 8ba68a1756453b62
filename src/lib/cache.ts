import envPaths from 'env-paths'

/**
 * capplan's per-user cache directory (synthesized models, llama.cpp builds). Outside the repository so a
 * fresh clone reuses earlier work; CAPPLAN_CACHE_DIR overrides it (CI, tests, read-only homes).
 */
export function capplanCacheDir(): string {
  const override = process.env.CAPPLAN_CACHE_DIR
  if (override !== undefined && override !== '') return override
  return envPaths('capplan', {suffix: ''}).cache
}
