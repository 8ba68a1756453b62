import {chmodSync, existsSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {findLlamaCppTool} from '../../src/engines/llamacpp/build.js'
import {readResultFile} from '../../src/results/read.js'
import {cmdlineOf, DescendantWatcher, waitFor} from '../helpers/proc.js'
import {tinyModelWorkdir} from '../helpers/tiny-models.js'

/**
 * No process capplan started outlives it when capplan fails (SIGINT/SIGTERM are covered by
 * llamacpp-server-teardown.test.ts and bench-llamacpp.test.ts). capplan bench --engine llamacpp runs as
 * `node bin/run.js` (needs `npm run build`); the test collects capplan's descendants from /proc while it runs
 * and checks none is alive afterwards, and that no process anywhere still names this test's work directory
 * (an orphan re-parented to init would escape a descendant list).
 *
 * Also SIGTERM in the middle of a level (a scheduler or container stop): handled like Ctrl-C.
 *
 * Failures, all real:
 * - an error in the middle of a level: the results directory is deleted after the result file was created, so
 *   saving level 1 fails with ENOENT (a user cleaning up, a tmp reaper); capplan turns that into NOT_FOUND (4);
 * - a server that fails to start: a --model-file that is not GGUF (llama-server exits), and a --server-bin
 *   that exits at once.
 */
const repo = path.resolve(import.meta.dirname, '..', '..')
const bin = path.join(repo, 'bin', 'run.js')
const serverBin = await findLlamaCppTool('llama-server')
if (serverBin === null) console.warn('SKIPPED process-leaks: no llama-server binary (run `capplan engine build` or set CAPPLAN_LLAMA_BIN_DIR).')

/** Live processes (other than zombies) whose command line mentions `marker`. */
function processesNaming(marker: string): string[] {
  const found: string[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    const args = cmdlineOf(Number(entry))
    if (args.some((arg) => arg.includes(marker))) found.push(`${entry}: ${args.join(' ')}`)
  }
  return found
}

describe.skipIf(serverBin === null)('no process outlives a failing capplan bench', () => {
  let work: string
  let env: Record<string, string>

  beforeAll(() => {
    ;({work, env} = tinyModelWorkdir('capplan-leaks-', serverBin))
  })
  afterAll(() => rmSync(work, {recursive: true, force: true}))

  function bench(args: string[]) {
    const child = execa('node', [bin, 'bench', '--engine', 'llamacpp', '--model', 'tiny-qwen2', '--threads', '1', ...args], {cwd: work, env, reject: false})
    return {child, watcher: new DescendantWatcher(child.pid!, 20)}
  }

  async function expectNothingLeft(watcher: DescendantWatcher) {
    watcher.stop()
    expect(await waitFor(() => watcher.survivors().length === 0, 5000), watcher.survivors().join('\n')).toBe(true)
    expect(processesNaming(work)).toEqual([])
  }

  it('the results directory deleted before level 1 is saved: exit 4 naming it, and the server is stopped', async () => {
    const results = path.join(work, 'results-deleted')
    const {child, watcher} = bench(['--synthetic', '--concurrency', '1,2', '--requests', '40', '--input-tokens', '16', '--output-tokens', '256', '--results-dir', results])
    try {
      const created = await waitFor(() => existsSync(results) && readdirSync(results).some((entry) => entry.endsWith('.json')), 120_000)
      expect(created, 'the result file never appeared').toBe(true)
      // The server runs: level 1 (40 x 256 tokens) is under way or about to be.
      expect(await waitFor(() => watcher.servers().length > 0, 10_000)).toBe(true)
      rmSync(results, {recursive: true, force: true})
      const run = await child
      // One CapplanError (NOT_FOUND, exit 4) naming the directory and what is lost, not a raw ENOENT (exit 1).
      expect(run.exitCode, run.stderr).toBe(4)
      // oclif wraps the message and starts each continued line with "›".
      const stderr = run.stderr.replace(/\s*\n\s*(›\s*)?/g, ' ')
      expect(stderr).toContain(`The results directory ${results} no longer exists (removed while capplan ran?)`)
      expect(stderr).toMatch(/The directory is gone, and the previous save \(0 levels\) with it: the measurements of this run so far are lost/)
      expect(watcher.servers()).toHaveLength(1)
      await expectNothingLeft(watcher)
    } finally {
      await watcher.endAll(child) // only does something if a failed expectation left capplan running
    }
  })

  it('SIGTERM during a level: capplan saves the level as partial (status interrupted), exits 130, the server is gone', async () => {
    const results = path.join(work, 'results-sigterm')
    const {child, watcher} = bench(['--synthetic', '--concurrency', '1,2', '--requests', '100000', '--input-tokens', '16', '--output-tokens', '64', '--results-dir', results])
    try {
      expect(await waitFor(() => existsSync(results) && readdirSync(results).find((entry) => entry.endsWith('.json')), 120_000)).toBeTruthy()
      expect(await waitFor(() => watcher.servers().length > 0, 10_000)).toBe(true)
      await new Promise((resolve) => setTimeout(resolve, 1500))
      child.kill('SIGTERM')
      const run = await child
      expect(run.exitCode, run.stderr).toBe(130)
      const name = readdirSync(results).find((entry) => entry.endsWith('.json'))!
      const file = await readResultFile(path.join(results, name))
      expect(file.status).toBe('interrupted')
      expect(file.levels).toHaveLength(1)
      expect(file.levels[0]!.status).toBe('partial')
      expect(file.levels[0]!.requests.length).toBeGreaterThan(0)
      for (const request of file.levels[0]!.requests) expect(request.outputTokens).toBe(64)
      await expectNothingLeft(watcher)
    } finally {
      await watcher.endAll(child)
    }
  })

  it('a --model-file that is not GGUF: llama-server exits while loading, capplan exits 8 with its log lines, nothing is left', async () => {
    const notGguf = path.join(work, 'not-a-model.gguf')
    writeFileSync(notGguf, 'this is not a GGUF file\n'.repeat(100))
    const {child, watcher} = bench(['--model-file', notGguf, '--concurrency', '1', '--requests', '1', '--results-dir', path.join(work, 'results-bad-model')])
    const run = await child
    expect(run.exitCode, run.stderr).toBe(8)
    expect(run.stderr.replace(/\s*\n\s*/g, ' ')).toMatch(/llama-server exited before it was ready \(exit code \d+\)/)
    await expectNothingLeft(watcher)
  })

  it('a --server-bin that exits at once: capplan exits 8 naming the exit, nothing is left', async () => {
    const quitter = path.join(work, 'llama-server-quits')
    writeFileSync(quitter, '#!/bin/sh\necho "llama-server stand-in: giving up at once" >&2\nexit 3\n')
    chmodSync(quitter, 0o755)
    const {child, watcher} = bench(['--synthetic', '--server-bin', quitter, '--concurrency', '1', '--requests', '1', '--results-dir', path.join(work, 'results-quits')])
    const run = await child
    expect(run.exitCode, run.stderr).toBe(8)
    const stderr = run.stderr.replace(/\s*\n\s*/g, ' ')
    expect(stderr).toMatch(/llama-server exited before it was ready \(exit code 3\)/)
    expect(stderr).toMatch(/giving up at once/)
    await expectNothingLeft(watcher)
  })
})
