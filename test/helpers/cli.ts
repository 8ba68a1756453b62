import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {format} from 'node:util'

import {Config, run} from '@oclif/core'
import {Exit, handle} from '@oclif/core/handle'

import {execa} from 'execa'

import {serializeResultFile} from '../../src/results/write.js'
import {sampleResult} from '../unit/results/sample-result.js'

/** The repository root, the built CLI and the peers' recorded files, for command tests run as subprocesses. */
export const repo = path.resolve(import.meta.dirname, '..', '..')
export const bin = path.join(repo, 'bin', 'run.js')
export const peers = path.join(repo, 'test', 'fixtures', 'peers')

/** `capplan ARGS` as a real process (needs `npm run build`); never throws, so tests assert the exit code. */
export const capplan = (args: string[], env?: Record<string, string>) => execa('node', [bin, ...args], {reject: false, cwd: repo, env})

/** A directory with the real llama-bench fixture, a truncated capplan file and one from a newer capplan. */
export function mixedDirectory(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'capplan-report-'))
  writeFileSync(path.join(dir, 'llama_bench.json'), readFileSync(path.join(peers, 'llama_bench.json')))
  writeFileSync(path.join(dir, 'cut.json'), serializeResultFile(sampleResult()).slice(0, 200))
  writeFileSync(path.join(dir, 'newer.json'), '{"schemaVersion": 4, "id": "x"}')
  return dir
}

/** What a command run gives back, in-process or as a subprocess. */
export type CliRun = {exitCode: number; stdout: string; stderr: string}

let oclifConfig: Promise<Config> | undefined

/**
 * `capplan ARGS` inside this test process, about 1 s faster a call than `capplan` (needs `npm run build`: the dist
 * commands, loaded as bin/run.js loads them, from one oclif Config). stdout, stderr and the console are captured
 * and the exit code is the one the process would have; errors print as oclif's handler prints them (`›   Error:`).
 * `cwd` (default: the repository root, as `capplan`) and `env` (undefined: unset) hold for the call only.
 * Keep `capplan`, a real process, for signals, exit behaviour, engines and progress on a real stderr.
 */
export async function capplanInProcess(args: string[], options: {cwd?: string; env?: Record<string, string | undefined>; stripFinalNewline?: boolean} = {}): Promise<CliRun> {
  oclifConfig ??= Config.load(repo)
  const config = await oclifConfig
  const out: string[] = []
  const err: string[] = []
  const text = (chunk: unknown) => (typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString())
  const line = (values: unknown[]) => `${format(...values)}\n`
  const saved = {
    stdoutWrite: process.stdout.write,
    stderrWrite: process.stderr.write,
    log: console.log,
    info: console.info,
    error: console.error,
    warn: console.warn,
    argv: process.argv,
    cwd: process.cwd(),
    exit: Exit.exit,
    env: Object.fromEntries(Object.keys(options.env ?? {}).map((key) => [key, process.env[key]])),
  }
  const capture = (into: string[]) =>
    ((chunk: unknown, ...rest: unknown[]) => {
      into.push(text(chunk))
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined
      callback?.()
      return true
    }) as typeof process.stdout.write
  let exitCode: number | undefined
  // As under execa: neither stream is a terminal (a test run from one would otherwise get its width and colors).
  const tty = [process.stdout, process.stderr].map((stream) => Object.getOwnPropertyDescriptor(stream, 'isTTY'))
  for (const stream of [process.stdout, process.stderr]) Object.defineProperty(stream, 'isTTY', {value: false, configurable: true, writable: true})
  process.stdout.write = capture(out)
  process.stderr.write = capture(err)
  console.log = (...values: unknown[]) => out.push(line(values))
  console.info = console.log
  console.error = (...values: unknown[]) => err.push(line(values))
  console.warn = console.error
  process.argv = [process.execPath, bin, ...args]
  Exit.exit = ((code = 0) => {
    exitCode = code
  }) as typeof Exit.exit
  for (const [key, value] of Object.entries(options.env ?? {})) setEnv(key, value)
  process.chdir(options.cwd ?? repo)
  process.exitCode = undefined
  try {
    await run(args, config)
    exitCode = Number(process.exitCode ?? 0)
  } catch (error) {
    // As bin/run.js: oclif's handler prints the error (not an ExitError) and exits with err.oclif.exit ?? 1.
    await handle(error as Error)
    exitCode ??= 1
  } finally {
    process.exitCode = undefined
    for (const [i, stream] of [process.stdout, process.stderr].entries()) {
      const descriptor = tty[i]
      if (descriptor) Object.defineProperty(stream, 'isTTY', descriptor)
      else delete (stream as {isTTY?: boolean}).isTTY
    }
    process.stdout.write = saved.stdoutWrite
    process.stderr.write = saved.stderrWrite
    console.log = saved.log
    console.info = saved.info
    console.error = saved.error
    console.warn = saved.warn
    process.argv = saved.argv
    Exit.exit = saved.exit
    for (const [key, value] of Object.entries(saved.env)) setEnv(key, value)
    process.chdir(saved.cwd)
  }
  // As execa (spawnSync does not): one final newline off each stream, unless stripFinalNewline is false.
  const strip = (s: string) => (options.stripFinalNewline === false ? s : s.replace(/\r?\n$/, ''))
  return {exitCode: exitCode ?? 0, stdout: strip(out.join('')), stderr: strip(err.join(''))}
}

function setEnv(key: string, value: string | undefined): void {
  if (value === undefined) delete process.env[key]
  else process.env[key] = value
}
