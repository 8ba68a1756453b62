import {existsSync} from 'node:fs'
import {statfs} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import si from 'systeminformation'

import {cachedModelPath, DEFAULT_SEED, estimateSyntheticFileBytes} from '../../gguf/synth.js'
import {capplanCacheDir} from '../../lib/cache.js'
import {insufficientResources, invalidInput} from '../../lib/errors.js'
import type {LoadPlan} from '../../loadgen/run.js'
import {maxRequestsOf} from '../../loadgen/stop-rules.js'
import type {ModelProfile, QuantLevel} from '../../profiles/schema.js'
import {kvBytesPerToken} from '../../roofline/memory.js'

const F16_BYTES = 2

/**
 * Will the model fit? Checked for every requested quant BEFORE anything is synthesized or loaded, so a
 * model too large for this machine is refused at once, with the arithmetic that shows why.
 */

/** Beyond weights and KV: compute buffers, the runtime, the tokenizer (the same 512 MiB the synthesizer assumes). */
export const RUNTIME_OVERHEAD_BYTES = 512 * 1024 * 1024

export interface MemoryEstimate {
  weightsBytes: number
  /** F16 K and V for every layer, KV head and context cell. */
  kvCacheBytes: number
  overheadBytes: number
  totalBytes: number
}

/**
 * F16 KV cache of a context: the roofline's bytes per token (GQA: 2 x layers x KV heads x head dim x 2 B;
 * MLA, DeepSeek V3 / Kimi K2: layers x (latent + rope key) x 2 B) x cells. One rule for bench and estimate.
 */
export function kvCacheBytes(profile: ModelProfile, contextSize: number): number {
  return kvBytesPerToken(profile, F16_BYTES).bytes * contextSize
}

export function estimateRunMemory(profile: ModelProfile, weightsBytes: number, contextSize: number): MemoryEstimate {
  const kv = kvCacheBytes(profile, contextSize)
  return {
    weightsBytes,
    kvCacheBytes: kv,
    overheadBytes: RUNTIME_OVERHEAD_BYTES,
    totalBytes: weightsBytes + kv + RUNTIME_OVERHEAD_BYTES,
  }
}

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20).toLocaleString('en-US')} MiB`

/** Throws INSUFFICIENT_RESOURCES (exit 7) naming each part of the estimate when it exceeds what is available. */
export function assertFitsInMemory(profile: ModelProfile, quant: QuantLevel, estimate: MemoryEstimate, availableBytes: number): void {
  if (estimate.totalBytes <= availableBytes) return
  throw insufficientResources(
    `${profile.id} at ${quant} needs about ${mib(estimate.totalBytes)} of memory ` +
      `(${mib(estimate.weightsBytes)} of weights + ${mib(estimate.kvCacheBytes)} of KV cache + ${mib(estimate.overheadBytes)} runtime), ` +
      `but this machine has ${mib(availableBytes)} available.`,
    'Pick a smaller model (--model) or a lower-bit quant (--quant int4), or lower --concurrency / token counts.',
  )
}

/**
 * Refuse (INVALID_INPUT, exit 2) closed-loop levels that can never reach their concurrency: a level ends
 * after at most N requests (--requests N, or its cap under --duration / --precision), so with N below the
 * concurrency C no more than N are ever in flight, and a level recorded "at concurrency C" would be a lie.
 * A --sweep's rungs are not refused (it chooses its own); report flags any level whose records never reached
 * its concurrency ("peak in flight").
 */
export function assertLevelsReachConcurrency(load: LoadPlan): void {
  if (load.kind !== 'concurrency') return
  for (const concurrency of load.concurrencies) {
    const rule = load.stopFor(concurrency)
    const cap = maxRequestsOf(rule)
    if (cap >= concurrency) continue
    const ends = rule.kind === 'requests' ? `--requests ${cap}` : `--requests ${cap} (the cap on each --${rule.kind} level)`
    throw invalidInput(
      `${ends} is fewer than --concurrency ${concurrency}: the level would never have more than ${cap} request${cap === 1 ? '' : 's'} in flight, ` +
        `so it would not measure concurrency ${concurrency}.`,
      `Raise --requests to at least ${concurrency} (two rounds, ${2 * concurrency}, measure steadier), or lower --concurrency to ${cap} or less.`,
    )
  }
}

/** Free disk needed relative to the files to write (the synthesizer's own margin). */
export const DISK_MARGIN = 1.1

/**
 * Throws INSUFFICIENT_RESOURCES when the models still to be synthesized (all quants of the run together)
 * do not fit in `freeBytes` of `dir`, listing each file's size.
 */
export function assertFitsOnDisk(profile: ModelProfile, toWrite: readonly {quant: QuantLevel; bytes: number}[], freeBytes: number, dir: string): void {
  const total = toWrite.reduce((sum, file) => sum + file.bytes, 0)
  const needed = Math.ceil(total * DISK_MARGIN)
  if (needed <= freeBytes) return
  const files = toWrite.map((file) => `${file.quant} ${mib(file.bytes)}`).join(' + ')
  throw insufficientResources(
    `The synthetic ${profile.id} model(s) to write (${files}) need ${mib(needed)} with a 10% margin, but ${dir} has ${mib(freeBytes)} free.`,
    'Free disk space, point CAPPLAN_CACHE_DIR at a larger disk, or pick fewer / lower-bit quants.',
  )
}

/**
 * Whether other work already keeps the cores busy. llama.cpp's CPU threads spin-wait for each other at every
 * step, so when they do not each get a core the run collapses: measured on this 2-core VM at a 1-minute load
 * average of 10-12, 2 threads gave 0.7 tok/s where an idle machine gives ~60 (1 thread: ~15).
 * Returns the warning to print, or null when the machine looks idle enough (load <= half the cores).
 */
export function busyMachineWarning(loadAverage1m: number, cores: number, threads: number): string | null {
  if (!(loadAverage1m > cores / 2)) return null
  const advice = threads > 1 ? ' or pass --threads 1, which suffers least' : ''
  return (
    `this machine is busy (1-minute load average ${loadAverage1m.toFixed(1)} on ${cores} core${cores === 1 ? '' : 's'}): ` +
    `llama.cpp's ${threads} thread${threads === 1 ? '' : 's'} will compete with other work and measure far below an idle machine. ` +
    `Measure when it is idle${advice}.`
  )
}

/** Memory the run may use: MemAvailable (free + reclaimable cache), not just "free". */
export async function availableMemoryBytes(): Promise<number> {
  try {
    const memory = await si.mem()
    if (memory.available > 0) return memory.available
  } catch {
    // fall through
  }
  return os.freemem()
}

/** Free bytes on the disk that holds `dir` (or its nearest existing parent: the cache may not exist yet). */
export async function freeDiskBytes(dir: string): Promise<number> {
  let probe = path.resolve(dir)
  while (!existsSync(probe) && path.dirname(probe) !== probe) probe = path.dirname(probe)
  const fs = await statfs(probe)
  return Number(fs.bavail) * Number(fs.bsize)
}

/**
 * Refuse a synthetic model this machine cannot hold (memory for every quant, disk for the files still to
 * write) before anything is synthesized.
 */
export async function assertSyntheticRunFits(profile: ModelProfile, quants: readonly QuantLevel[], contextSize: number): Promise<void> {
  const available = await availableMemoryBytes()
  const fileBytes = new Map(quants.map((quant) => [quant, estimateSyntheticFileBytes(profile, quant)]))
  for (const quant of quants) {
    assertFitsInMemory(profile, quant, estimateRunMemory(profile, fileBytes.get(quant)!, contextSize), available)
  }
  const toWrite = quants.filter((quant) => !existsSync(cachedModelPath(profile, quant, DEFAULT_SEED))).map((quant) => ({quant, bytes: fileBytes.get(quant)!}))
  if (toWrite.length > 0) {
    const cacheDir = path.join(capplanCacheDir(), 'models')
    assertFitsOnDisk(profile, toWrite, await freeDiskBytes(cacheDir), cacheDir)
  }
}
