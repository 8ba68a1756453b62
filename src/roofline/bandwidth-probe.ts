import {performance} from 'node:perf_hooks'

/**
 * A short memory-bandwidth probe for the CPU profile (which has no datasheet bandwidth): copy a buffer much
 * larger than the caches with TypedArray.set (a native memcpy) and time it. One copy moves the buffer twice
 * (read + write). It runs on ONE thread, so it is a lower bound on what a multi-threaded engine reads: label
 * it "single-thread JS estimate", never a spec.
 */

export interface BandwidthProbe {
  /** Best (fastest) pass, GB/s (1e9 bytes). */
  gbPerS: number
  bufferBytes: number
  passes: number
  /** Seconds of each timed pass. */
  passSeconds: number[]
  method: string
}

export interface ProbeOptions {
  /** Size of each of the two buffers; default 256 MiB, far above any L3. */
  bufferBytes?: number
  passes?: number
  /** Injected for tests; defaults to performance.now (ms). */
  nowMs?: () => number
}

export function probeMemoryBandwidth(options: ProbeOptions = {}): BandwidthProbe {
  const bufferBytes = options.bufferBytes ?? 256 * 1024 * 1024
  const passes = options.passes ?? 5
  const now = options.nowMs ?? (() => performance.now())
  const src = new Float64Array(bufferBytes / 8)
  const dst = new Float64Array(bufferBytes / 8)
  // Touch every page first so the timed passes measure copying, not page faults.
  src.fill(1)
  dst.fill(0)
  const passSeconds: number[] = []
  for (let pass = 0; pass < passes; pass++) {
    const start = now()
    dst.set(src)
    passSeconds.push((now() - start) / 1000)
  }
  const best = Math.min(...passSeconds)
  return {
    gbPerS: (2 * bufferBytes) / best / 1e9,
    bufferBytes,
    passes,
    passSeconds,
    method: `single-thread JS estimate: best of ${passes} copies of ${bufferBytes / 1024 / 1024} MiB (read + write counted), a lower bound`,
  }
}
