import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {quoteArgv, redactArgv} from '../../../src/lib/redact.js'
import {parseResultFile, readResultFile} from '../../../src/results/read.js'
import {resultFileSchema, resultFileV1Schema, resultFileV2Schema} from '../../../src/results/schema.js'
import {shellWords, upgradeV1, upgradeV2} from '../../../src/results/upgrade.js'
import {writeResultFile} from '../../../src/results/write.js'
import {sampleResult} from './sample-result.js'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
// Real files written by capplan before version 2: a peer's fixture and one of results/ (each names its machine).
const v1Fixture = join(repo, 'test/fixtures/peers/capplan-embedded-int4.json')
const v1Measured = join(repo, 'results/20261122T075225Z_vm_cpu_qwen2.5-0.5b_int4_embedded.json')

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'capplan-upgrade-'))
})
afterEach(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('shellWords (version 1 commands only)', () => {
  it('reads back the words quoteArgv writes, quotes included', () => {
    const argv = ['capplan', 'bench', '--dataset', "it's here.jsonl", '--slo', 'ttft=2s,tpot=50ms', '--', '--mlock']
    expect(shellWords(quoteArgv(redactArgv(argv)))).toEqual(argv)
    expect(shellWords("a 'b c' d'e'f")).toEqual(['a', 'b c', 'def'])
    expect(shellWords('a\\ b  c')).toEqual(['a b', 'c'])
    expect(shellWords('')).toEqual([])
  })

  it('keeps the rest of an unterminated quote (a hand-edited file) as one word instead of refusing the file', () => {
    expect(shellWords("capplan bench --dataset 'my file")).toEqual(['capplan', 'bench', '--dataset', 'my file'])
  })
})

describe('reading a version 1 file: upgraded to the current version in memory', () => {
  it('the real peer fixture: its command line becomes the argv, nothing else changes', async () => {
    const onDisk = JSON.parse(await readFile(v1Fixture, 'utf8'))
    expect(onDisk.schemaVersion).toBe(1)
    const read = await readResultFile(v1Fixture)
    expect(read.schemaVersion).toBe(3)
    expect(read.capplan).toEqual({
      version: onDisk.capplan.version,
      command: ['capplan', 'bench', '--quant', 'int4,fp16', '--concurrency', '1,2', '--input-tokens', '32', '--output-tokens', '16', '--requests', '6', '--results-dir', '/tmp/g-results'],
    })
    expect({...read, schemaVersion: 1, capplan: onDisk.capplan}).toEqual(onDisk)
    // What a reader gets is a valid current-version result (what bench --resume, report and compare take).
    expect(resultFileSchema.safeParse(read).success).toBe(true)
  })

  it('a real measured file of results/', async () => {
    const read = await readResultFile(v1Measured)
    expect(read.capplan.command).toEqual(['capplan', 'bench', '--quant', 'int4,int8,fp16', '--input-tokens', '128', '--output-tokens', '64', '--concurrency', '1,2,4'])
  })

  it('the fast path and zod give the same upgraded file', async () => {
    const text = await readFile(v1Fixture, 'utf8')
    expect(parseResultFile(text, 'v1.json')).toEqual(upgradeV1(resultFileV1Schema.parse(JSON.parse(text))))
  })

  it('a version 1 file is checked against version 1: an argv command there is an error with its path', async () => {
    const onDisk = JSON.parse(await readFile(v1Fixture, 'utf8'))
    onDisk.capplan.command = ['capplan', 'bench']
    expect(() => parseResultFile(JSON.stringify(onDisk), 'odd.json')).toThrow(
      'odd.json does not match the result-file schema (version 1): capplan.command: expected string, received array',
    )
  })
})

describe('a version 2 file: read as version 3 with nothing but the number changed', () => {
  it('keeps every field (version 3 only adds optional records)', async () => {
    const v2 = {...sampleResult(), schemaVersion: 2}
    const path = join(dir, 'v2.json')
    await writeFile(path, JSON.stringify(v2))
    const read = await readResultFile(path)
    expect(read).toEqual({...v2, schemaVersion: 3})
    expect(parseResultFile(JSON.stringify(v2), 'v2.json')).toEqual(upgradeV2(resultFileV2Schema.parse(v2)))
  })

  it('with a shell-line command is refused naming the field and version 2', async () => {
    const path = join(dir, 'mixed-v2.json')
    await writeFile(path, JSON.stringify({...sampleResult(), schemaVersion: 2, capplan: {version: '0.1.0', command: 'capplan bench'}}))
    await expect(readResultFile(path)).rejects.toThrow('(version 2): capplan.command: expected array, received string')
  })
})

describe('a version 3 file', () => {
  it('carries the optional records (shape, cache, client health, sessions) through write and read', async () => {
    const base = sampleResult()
    const level = base.levels[0]!
    const result = {
      ...base,
      workload: {...base.workload, shape: {promptCache: 'on' as const, seed: 1, prefix: {tokens: 96, groups: 1}, sessions: null, input: {kind: 'fixed' as const, tokens: 128}, output: {kind: 'fixed' as const, tokens: 16}, arrivals: {process: 'closed' as const, burstiness: null, rampMs: null}, trace: null}},
      levels: [
        {
          ...level,
          requests: level.requests.map((request, i) => ({...request, cachedTokens: i === 0 ? null : 96, session: {id: i, turn: 0}})),
          cache: {intendedHitRate: 0.75, measuredHitRate: 0.5, cachedTokens: 96, promptTokens: 192, source: 'server-usage' as const},
          clientHealth: {eventLoopDelayMs: {count: 10, p50: 0.2, p99: 1.5, max: 2}, gcPauseMs: {count: 3, p50: 0.5, p99: 2.5, max: 2.5, totalMs: 3.5}},
        },
      ],
    }
    const path = await writeResultFile(dir, result)
    expect(await readResultFile(path)).toEqual(result)
    // The fast path accepts it exactly when zod does (a bad optional record falls to zod, which names it).
    expect(parseResultFile(JSON.stringify(result), 'v3.json')).toEqual(resultFileSchema.parse(result))
    const bad = structuredClone(result)
    ;(bad.levels[0]!.requests[1] as {cachedTokens: unknown}).cachedTokens = -1
    expect(() => parseResultFile(JSON.stringify(bad), 'bad.json')).toThrow('bad.json does not match the result-file schema (version 3): levels[0].requests[1].cachedTokens')
  })

  it("reads client health with and without the client threads' GC pauses (threadGcPauseMs, optional), and refuses a bad one naming it", async () => {
    const base = sampleResult()
    const level = base.levels[0]!
    const mainOnly = {eventLoopDelayMs: {count: 10, p50: 0.2, p99: 1.5, max: 2}, gcPauseMs: {count: 3, p50: 0.5, p99: 2.5, max: 2.5, totalMs: 3.5}}
    // A file written before threadGcPauseMs existed: read as it is, the field absent.
    const older = {...base, levels: [{...level, clientHealth: mainOnly}]}
    const olderRead = await readResultFile(await writeResultFile(dir, older))
    expect(olderRead).toEqual(older)
    expect(olderRead.levels[0]!.clientHealth).not.toHaveProperty('threadGcPauseMs')
    const threads = [
      {count: 7, p50: 0.4, p99: 1.1, max: 1.2, totalMs: 3},
      {count: 0, p50: 0, p99: 0, max: 0, totalMs: 0},
    ]
    const newer = {...base, createdAt: '2026-11-22T06:16:00.123Z', levels: [{...level, clientHealth: {...mainOnly, threadGcPauseMs: threads}}]}
    expect(await readResultFile(await writeResultFile(dir, newer))).toEqual(newer)
    expect(parseResultFile(JSON.stringify(newer), 'threads.json')).toEqual(resultFileSchema.parse(newer))
    const bad = structuredClone(newer)
    bad.levels[0]!.clientHealth.threadGcPauseMs[1]!.p99 = -1
    expect(() => parseResultFile(JSON.stringify(bad), 'bad.json')).toThrow('levels[0].clientHealth.threadGcPauseMs[1].p99')
  })

  it('is written with the argv and read back as it is', async () => {
    const result = sampleResult({capplan: {version: '0.1.0', command: ['capplan', 'bench', '--dataset', "it's here.jsonl"]}})
    const path = await writeResultFile(dir, result)
    const onDisk = JSON.parse(await readFile(path, 'utf8'))
    expect(onDisk.schemaVersion).toBe(3)
    expect(onDisk.capplan.command).toEqual(['capplan', 'bench', '--dataset', "it's here.jsonl"])
    expect(await readResultFile(path)).toEqual(result)
  })

  it('with a shell-line command is refused naming the field', async () => {
    const path = join(dir, 'mixed.json')
    await writeFile(path, JSON.stringify({...sampleResult(), capplan: {version: '0.1.0', command: 'capplan bench'}}))
    await expect(readResultFile(path)).rejects.toThrow('(version 3): capplan.command: expected array, received string')
  })
})
