import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {findLlamaCppTool} from '../../src/engines/llamacpp/build.js'
import {ensureSyntheticModel} from '../../src/gguf/synth.js'
import {tinyQwen2} from '../helpers/tiny-models.js'

/**
 * No llama-server outlives capplan: a separate Node process (the BUILT engine, dist/) starts a real server,
 * then is ended by SIGINT, by SIGTERM, by SIGKILL (no code of its own runs: the server's watchdog must end it), or
 * exits without calling stop(); the server's pid must be gone, and its watchdog too.
 * Needs `npm run build` (test:integration runs it) and a llama-server; skipped with the reason otherwise.
 */

const distEngine = fileURLToPath(new URL('../../dist/engines/llamacpp/engine.js', import.meta.url))
const serverBin = await findLlamaCppTool('llama-server')
const skipReason = serverBin === null ? 'no llama-server found (capplan engine build)' : existsSync(distEngine) ? null : 'dist/ is missing (npm run build)'
if (skipReason !== null) console.warn(`[skip] llama-server teardown: ${skipReason}`)

const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3))
  } catch {
    return false
  }
}

async function waitGone(pid: number, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (!alive(pid)) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return !alive(pid)
}

/** The watchdog of the server `pid`: `node -e <source> <pid> <grace> <poll>` (src/engines/process.ts). */
function watchdogOf(pid: number): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
      if (argv[1] === '-e' && argv[3] === String(pid) && alive(Number(entry))) return Number(entry)
    } catch {
      // ended while we looked
    }
  }
  return null
}

describe.skipIf(skipReason !== null)('llama-server teardown when capplan ends', () => {
  let dir: string
  let modelPath: string
  const previousCache = process.env.CAPPLAN_CACHE_DIR

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'capplan-teardown-'))
    process.env.CAPPLAN_CACHE_DIR = dir
    modelPath = (await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4'})).path
  })
  afterAll(() => {
    if (previousCache === undefined) delete process.env.CAPPLAN_CACHE_DIR
    else process.env.CAPPLAN_CACHE_DIR = previousCache
    rmSync(dir, {recursive: true, force: true})
  })

  /** A Node process that starts the server, prints `pid=N`, then `after` ('wait' forever or 'exit' at once). */
  function startHolder(after: 'wait' | 'exit') {
    const script = `
      import {LlamaCppEngine} from ${JSON.stringify(pathToFileURL(distEngine).href)}
      const engine = new LlamaCppEngine({modelPath: ${JSON.stringify(modelPath)}, serverBin: ${JSON.stringify(serverBin)},
        threads: 1, maxConcurrency: 1, tokensPerSequence: 64, logFile: ${JSON.stringify(path.join(dir, `holder-${after}.log`))}})
      await engine.start()
      console.log('pid=' + engine.pid)
      ${after === 'exit' ? 'process.exit(0)' : 'setInterval(() => {}, 1000)'}
    `
    return execa('node', ['--input-type=module', '-e', script], {reject: false, buffer: true, lines: false})
  }

  async function serverPidOf(holder: ReturnType<typeof startHolder>): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      let seen = ''
      holder.stdout!.on('data', (chunk: Buffer) => {
        seen += chunk.toString()
        const match = seen.match(/pid=(\d+)/)
        if (match !== null) resolve(Number(match[1]))
      })
      void holder.then((result) => reject(new Error(`holder ended before printing the pid: ${result.stderr}`)))
    })
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} to capplan ends the server's process group, then capplan dies by the signal`, async () => {
      const holder = startHolder('wait')
      const pid = await serverPidOf(holder)
      expect(alive(pid)).toBe(true)
      const watchdog = watchdogOf(pid)
      expect(watchdog).not.toBeNull()
      holder.kill(signal)
      const result = await holder
      expect(result.signal).toBe(signal)
      expect(await waitGone(pid)).toBe(true)
      expect(await waitGone(watchdog!, 3000)).toBe(true)
    })
  }

  it('SIGKILL to capplan (nothing of capplan runs): the watchdog ends the server within 4 s (2 s grace + margin), then itself', async () => {
    const holder = startHolder('wait')
    const pid = await serverPidOf(holder)
    const watchdog = watchdogOf(pid)
    expect(watchdog).not.toBeNull()
    const killedAt = Date.now()
    holder.kill('SIGKILL')
    expect((await holder).signal).toBe('SIGKILL')
    expect(await waitGone(pid, 4000)).toBe(true)
    const serverGoneMs = Date.now() - killedAt
    expect(await waitGone(watchdog!, 3000)).toBe(true)
    console.info(`[teardown] SIGKILL: llama-server gone ${serverGoneMs} ms after the kill, its watchdog ${Date.now() - killedAt} ms`)
  })

  it('exiting without stop() still kills the server (exit hook)', async () => {
    const holder = startHolder('exit')
    const pid = await serverPidOf(holder)
    const result = await holder
    expect(result.exitCode).toBe(0)
    expect(await waitGone(pid)).toBe(true)
    // The exit hook SIGKILLs the watchdog with the server (a signal takes a moment to land).
    const deadline = Date.now() + 3000
    while (watchdogOf(pid) !== null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(watchdogOf(pid)).toBeNull()
  })
})
