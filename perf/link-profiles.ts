// The last step of `npm run build:perf`. tsc -p tsconfig.perf.json compiles perf/ together with the src/
// modules it imports, into dist-perf/perf and dist-perf/src. The compiled project finds its built-in profiles
// two directories above src/profiles/files.js (builtinProfilesDir), which is dist-perf/profiles there: link
// that to the repository's profiles/ so dist-perf/src behaves exactly as dist/ does (a link, not a copy, so
// an edited profile is never stale).

import {type Stats, lstatSync, rmSync, symlinkSync, unlinkSync} from 'node:fs'
import path from 'node:path'

import {REPO_ROOT, repoPath} from './paths.js'

const link = repoPath('dist-perf', 'profiles')
const target = repoPath('profiles')

let existing: Stats | null = null
try {
  existing = lstatSync(link)
} catch {
  // not there yet
}
// An old link is unlinked (never followed); anything else there is build output and goes.
if (existing?.isSymbolicLink() === true) unlinkSync(link)
else if (existing !== null) rmSync(link, {recursive: true, force: true})
// 'junction' makes a directory link on Windows without extra rights; elsewhere the type is ignored.
symlinkSync(path.relative(path.dirname(link), target), link, 'junction')
process.stdout.write(`perf: ${path.relative(REPO_ROOT, link)} -> ${path.relative(REPO_ROOT, target)}\n`)
