import type {GpuSample, LevelTelemetry} from '../results/schema.js'

/**
 * Energy of a level, all GPUs together (protocols.md "GPU telemetry"): the driver's energy counter
 * (nvidia-smi total_energy_consumption, millijoules since the driver loaded, Volta and newer) read before
 * and after the window is exact; without it, power samples are integrated with the trapezoid rule. Pure.
 */

/**
 * Joules of one GPU's power samples over [startMs, endMs] by the trapezoid rule. Samples outside the
 * window are clipped (the power at a window edge is interpolated between the samples around it), and the
 * power is HELD constant from the window start to the first sample and from the last sample to the window
 * end (a 200 ms sampler otherwise loses up to 0.2 s of energy at each end). Samples without a power
 * reading are skipped. null when no sample has a power reading.
 */
export function integratePowerJ(samples: ReadonlyArray<{tMs: number; powerW: number | null}>, startMs?: number, endMs?: number): number | null {
  const points = samples
    .filter((s): s is {tMs: number; powerW: number} => s.powerW !== null && Number.isFinite(s.powerW) && Number.isFinite(s.tMs))
    .map((s) => ({t: s.tMs, p: s.powerW}))
    .sort((a, b) => a.t - b.t)
  if (points.length === 0) return null
  const start = startMs ?? points[0]!.t
  const end = endMs ?? points.at(-1)!.t
  if (end <= start) return 0
  /** Power at time t: linear between neighbours, held beyond the first/last sample. */
  const powerAt = (t: number): number => {
    if (t <= points[0]!.t) return points[0]!.p
    if (t >= points.at(-1)!.t) return points.at(-1)!.p
    const i = points.findIndex((point) => point.t >= t)
    const a = points[i - 1]!
    const b = points[i]!
    return b.t === a.t ? b.p : a.p + ((b.p - a.p) * (t - a.t)) / (b.t - a.t)
  }
  const knots = [{t: start, p: powerAt(start)}, ...points.filter((point) => point.t > start && point.t < end), {t: end, p: powerAt(end)}]
  let joules = 0
  for (let i = 1; i < knots.length; i++) {
    joules += ((knots[i - 1]!.p + knots[i]!.p) / 2) * ((knots[i]!.t - knots[i - 1]!.t) / 1000)
  }
  return joules
}

/** Integrated energy of every GPU in the samples, summed; null when none has a power reading. */
export function integrateAllGpusJ(samples: readonly GpuSample[], startMs?: number, endMs?: number): number | null {
  const byGpu = new Map<number, GpuSample[]>()
  for (const sample of samples) byGpu.set(sample.gpu, [...(byGpu.get(sample.gpu) ?? []), sample])
  let total: number | null = null
  for (const gpuSamples of byGpu.values()) {
    const joules = integratePowerJ(gpuSamples, startMs, endMs)
    if (joules !== null) total = (total ?? 0) + joules
  }
  return total
}

/**
 * Joules from the driver's counters (GPU index -> millijoules) read before and after. null when a GPU is
 * missing from either read or its counter went backwards (driver reload, wrap): then integration is used.
 */
export function counterEnergyJ(beforeMJ: ReadonlyMap<number, number>, afterMJ: ReadonlyMap<number, number>): number | null {
  if (beforeMJ.size === 0 || beforeMJ.size !== afterMJ.size) return null
  let millijoules = 0
  for (const [gpu, before] of beforeMJ) {
    const after = afterMJ.get(gpu)
    if (after === undefined || after < before) return null
    millijoules += after - before
  }
  return millijoules / 1000
}

export interface LevelEnergyInput {
  samples: GpuSample[]
  /** Energy counters at the window start / end (empty maps when the driver has none). */
  counterBeforeMJ: ReadonlyMap<number, number>
  counterAfterMJ: ReadonlyMap<number, number>
  /** The measured window, monotonic ms on the samples' clock. */
  window: {startMs: number; endMs: number}
  /** Output tokens of the level's successful requests. */
  outputTokens: number
  /** Notes gathered so far (sampler failures); copied into the result. */
  notes?: readonly string[]
}

/** The LevelTelemetry record of a level: samples, energy (counter first, else integrated) and J per output token. */
export function levelTelemetry(input: LevelEnergyInput): LevelTelemetry {
  const notes = [...(input.notes ?? [])]
  // A counter that misses a GPU seen in the samples would undercount: then integrate instead.
  const sampledGpus = new Set(input.samples.map((sample) => sample.gpu))
  const countersCoverAll = [...sampledGpus].every((gpu) => input.counterBeforeMJ.has(gpu))
  let energyJ = countersCoverAll ? counterEnergyJ(input.counterBeforeMJ, input.counterAfterMJ) : null
  let energySource: LevelTelemetry['energySource'] = energyJ === null ? null : 'counter'
  if (energyJ === null) {
    energyJ = integrateAllGpusJ(input.samples, input.window.startMs, input.window.endMs)
    if (energyJ !== null) {
      energySource = 'integrated'
      if (input.counterBeforeMJ.size > 0) notes.push('The GPU energy counter was unusable for this level (missing or reset); energy integrated from power samples.')
    }
  }
  const joulesPerOutputToken = energyJ !== null && input.outputTokens > 0 ? energyJ / input.outputTokens : null
  return {gpuSamples: input.samples, energyJ, energySource, joulesPerOutputToken, notes}
}
