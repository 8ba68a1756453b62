import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {execa} from 'execa'

import {serializeResultFile} from '../../src/results/write.js'
import {sampleResult} from '../unit/results/sample-result.js'

/** The repository root, the built CLI and the peers' recorded files, for command tests run as subprocesses. */
export const repo = path.resolve(import.meta.dirname, '..', '..')
export const bin = path.join(repo, 'bin', 'run.js')
export const peers = path.join(repo, 'test', 'fixtures', 'peers')

/** `capplan ARGS` as a real process (needs `npm run build`); never throws, so tests assert the exit code. */
export const capplan = (args: string[]) => execa('node', [bin, ...args], {reject: false, cwd: repo})

/** A directory with the real llama-bench fixture, a truncated capplan file and one from a newer capplan. */
export function mixedDirectory(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'capplan-report-'))
  writeFileSync(path.join(dir, 'llama_bench.json'), readFileSync(path.join(peers, 'llama_bench.json')))
  writeFileSync(path.join(dir, 'cut.json'), serializeResultFile(sampleResult()).slice(0, 200))
  writeFileSync(path.join(dir, 'newer.json'), '{"schemaVersion": 3, "id": "x"}')
  return dir
}
