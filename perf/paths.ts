// Where perf/ finds the repository and its own sibling scripts, whether it runs from source (vitest, or
// `node --import tsx perf/x.ts`) or compiled (`npm run bench`: dist-perf/perf/x.js, see tsconfig.perf.json).

import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const HERE = fileURLToPath(import.meta.url)

/** The nearest directory above this file that holds package.json: the repository (perf/ or dist-perf/perf/ lie below it). */
function findRepoRoot(): string {
  for (let dir = path.dirname(HERE); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir
    if (path.dirname(dir) === dir) throw new Error(`perf: no package.json above ${HERE}`)
  }
}

export const REPO_ROOT = findRepoRoot()

/** A path inside the repository, e.g. repoPath('bin', 'run.js'). */
export function repoPath(...parts: string[]): string {
  return path.join(REPO_ROOT, ...parts)
}

/** The capplan CLI (bin/run.js: runs the project built into dist/ by `npm run build`). */
export const CAPPLAN_BIN = repoPath('bin', 'run.js')

/**
 * A perf script run as its own node process (sse-source, soak's source child): the file beside this one with
 * the same extension, and the node flags it needs: a .ts source file runs through tsx's loader (which also
 * maps the `.js` import specifiers to the .ts sources); a compiled .js file needs none.
 */
export function perfScript(name: string): {file: string; execArgv: string[]} {
  const extension = path.extname(HERE)
  const file = path.join(path.dirname(HERE), `${name}${extension}`)
  if (extension !== '.ts') return {file, execArgv: []}
  const loader = createRequire(import.meta.url).resolve('tsx')
  return {file, execArgv: ['--import', pathToFileURL(loader).href]}
}

/** True when the module at `moduleUrl` (its import.meta.url) is the file node was started with. */
export function isMainModule(moduleUrl: string): boolean {
  const entry = process.argv[1]
  return entry !== undefined && pathToFileURL(path.resolve(entry)).href === moduleUrl
}
