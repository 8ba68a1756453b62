import {execa, type ResultPromise} from 'execa'

import type {GpuSample} from '../results/schema.js'

/**
 * NVIDIA GPU telemetry during a level: `nvidia-smi --query-gpu=... --format=csv,noheader,nounits -lms 200`
 * runs beside the load (argument array, never a shell) and prints one CSV line per GPU every interval;
 * lines are parsed as they arrive and stamped with capplan's monotonic clock. The driver's energy counter
 * (total_energy_consumption, mJ) is read once before and once after the level.
 *
 * No nvidia-smi, no driver, or a GPU without some field ("[N/A]", "[Not Supported]") is a NOTE in the
 * result, never a failure: capplan runs on CPU-only machines too.
 *
 * Line format (nvidia-smi --help-query-gpu and its man page): fields in the order asked, separated by ", ",
 * no header, no units with `nounits`; unavailable values print as "[N/A]" (older drivers: "N/A"), or
 * "[Not Supported]" / "[Unknown Error]". Example (H100 SXM, driver 550):
 *   0, NVIDIA H100 80GB HBM3, GPU-6e4f7c1a-..., 550.54.15, 81559, 70213, 98, 652.31, 1980, 2619, 63
 */

export const NVIDIA_SMI_FIELDS = [
  'index',
  'name',
  'uuid',
  'driver_version',
  'memory.total',
  'memory.used',
  'utilization.gpu',
  'power.draw',
  'clocks.sm',
  'clocks.mem',
  'temperature.gpu',
] as const

export const DEFAULT_SAMPLE_INTERVAL_MS = 200

/** `-i 0,1`: only the GPUs the engine uses (a 2-GPU replica on an 8-GPU host must not count 6 idle GPUs). */
function deviceArgs(devices: readonly number[] | undefined): string[] {
  return devices === undefined || devices.length === 0 ? [] : ['-i', devices.join(',')]
}

/** The sampling loop's arguments. */
export function nvidiaSmiLoopArgs(intervalMs = DEFAULT_SAMPLE_INTERVAL_MS, devices?: readonly number[]): string[] {
  return [`--query-gpu=${NVIDIA_SMI_FIELDS.join(',')}`, '--format=csv,noheader,nounits', ...deviceArgs(devices), '-lms', String(intervalMs)]
}

/** The one-shot energy counter read. */
export function nvidiaSmiEnergyArgs(devices?: readonly number[]): string[] {
  return ['--query-gpu=index,total_energy_consumption', '--format=csv,noheader,nounits', ...deviceArgs(devices)]
}

/** One line of the loop, typed; null fields = the driver did not say. */
export interface GpuReading {
  gpu: number
  name: string | null
  uuid: string | null
  driver: string | null
  memoryTotalMiB: number | null
  memoryUsedMiB: number | null
  utilizationPct: number | null
  powerW: number | null
  smClockMHz: number | null
  memClockMHz: number | null
  temperatureC: number | null
}

/** "[N/A]", "N/A", "[Not Supported]", "" -> null; else the trimmed text. */
function present(field: string | undefined): string | null {
  const value = field?.trim() ?? ''
  if (value === '' || /^\[.*\]$/.test(value) || /^n\/a$/i.test(value)) return null
  return value
}

function numeric(field: string | undefined): number | null {
  const value = present(field)
  if (value === null) return null
  const number = Number(value.replace(/\s*(W|MiB|MHz|%|C)$/i, ''))
  return Number.isFinite(number) ? number : null
}

/** One CSV line of the loop; null when it is not a reading (a header, an error message, a blank line). */
export function parseNvidiaSmiLine(line: string): GpuReading | null {
  const fields = line.split(',')
  if (fields.length !== NVIDIA_SMI_FIELDS.length) return null
  const gpu = numeric(fields[0])
  if (gpu === null || !Number.isInteger(gpu) || gpu < 0) return null
  const utilization = numeric(fields[6])
  const power = numeric(fields[7])
  return {
    gpu,
    name: present(fields[1]),
    uuid: present(fields[2]),
    driver: present(fields[3]),
    memoryTotalMiB: numeric(fields[4]),
    memoryUsedMiB: numeric(fields[5]),
    // Out-of-range values (a driver glitch) become null rather than an invalid result file.
    utilizationPct: utilization !== null && utilization >= 0 && utilization <= 100 ? utilization : null,
    powerW: power !== null && power >= 0 ? power : null,
    smClockMHz: numeric(fields[8]),
    memClockMHz: numeric(fields[9]),
    temperatureC: numeric(fields[10]),
  }
}

/** A reading as the result file stores it, stamped at `tMs` (monotonic, relative to the run's t0). */
export function toGpuSample(reading: GpuReading, tMs: number): GpuSample {
  const nonNegative = (value: number | null) => (value !== null && value >= 0 ? value : null)
  return {
    tMs,
    gpu: reading.gpu,
    powerW: reading.powerW,
    utilizationPct: reading.utilizationPct,
    memoryUsedMiB: nonNegative(reading.memoryUsedMiB),
    smClockMHz: nonNegative(reading.smClockMHz),
    temperatureC: reading.temperatureC,
  }
}

/** "0, 123456789\n1, [N/A]" -> {0: 123456789}: GPUs whose counter is unavailable are left out. */
export function parseEnergyCounters(csv: string): Map<number, number> {
  const counters = new Map<number, number>()
  for (const line of csv.split('\n')) {
    const [indexField, energyField, ...extra] = line.split(',')
    if (extra.length > 0) continue
    const gpu = numeric(indexField)
    const millijoules = numeric(energyField)
    if (gpu !== null && Number.isInteger(gpu) && millijoules !== null && millijoules >= 0) counters.set(gpu, millijoules)
  }
  return counters
}

/** Splits a byte stream's text into complete lines (a chunk may end mid-line). */
export class LineSplitter {
  private rest = ''

  push(chunk: string): string[] {
    const text = this.rest + chunk
    const lines = text.split(/\r?\n/)
    this.rest = lines.pop() ?? ''
    return lines
  }

  /** The last line when the stream ended without a newline. */
  flush(): string[] {
    const rest = this.rest
    this.rest = ''
    return rest.trim() === '' ? [] : [rest]
  }
}

export interface GpuSamplerOptions {
  /** nvidia-smi binary (name on PATH or a path). */
  bin?: string
  intervalMs?: number
  /** The run's t0 on the performance.now() clock: samples are stamped now() - t0Ms. */
  t0Ms?: number
  /** Monotonic clock (tests may inject one). */
  now?: () => number
  /** Extra environment for nvidia-smi (tests put a fake one first on PATH). */
  env?: Record<string, string>
  /** Limit for the one-shot reads. */
  queryTimeoutMs?: number
  /** nvidia-smi indices of the GPUs to sample; default: every GPU. */
  devices?: readonly number[]
}

export interface GpuSamplerResult {
  samples: GpuSample[]
  counterBeforeMJ: Map<number, number>
  counterAfterMJ: Map<number, number>
  /** Static description of each GPU from the first reading (name, uuid, driver, memory). */
  devices: GpuReading[]
  notes: string[]
}

const MAX_STDERR_CHARS = 4000

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim() ?? ''
  )
}

/**
 * start() before the level, stop() after it: samples, energy counters and notes for that level. A sampler
 * is single-use; a new level makes a new one.
 */
export class NvidiaSmiSampler {
  private readonly bin: string
  private readonly now: () => number
  private readonly t0Ms: number
  private loop: ResultPromise | null = null
  private loopDone: Promise<void> | null = null
  private stopping = false
  private available = false
  private readonly samples: GpuSample[] = []
  private readonly devices = new Map<number, GpuReading>()
  private readonly notes: string[] = []
  private counterBeforeMJ = new Map<number, number>()
  private stderr = ''

  constructor(private readonly options: GpuSamplerOptions = {}) {
    this.bin = options.bin ?? 'nvidia-smi'
    this.now = options.now ?? (() => performance.now())
    this.t0Ms = options.t0Ms ?? 0
  }

  /** Run nvidia-smi once; a note (and null) when it is missing or fails. */
  private async query(args: readonly string[]): Promise<string | null> {
    const result = await execa(this.bin, [...args], {
      reject: false,
      timeout: this.options.queryTimeoutMs ?? 15_000,
      stdin: 'ignore',
      ...(this.options.env === undefined ? {} : {env: this.options.env}),
    })
    if ((result as {code?: unknown}).code === 'ENOENT') {
      this.notes.push(`${this.bin} not found: no GPU telemetry (power, utilization, memory, energy) was recorded.`)
      return null
    }
    if (result.failed) {
      const why = firstLine(String(result.stdout ?? '')) || firstLine(String(result.stderr ?? '')) || result.shortMessage
      this.notes.push(`${this.bin} failed (${why}): no GPU telemetry was recorded.`)
      return null
    }
    return String(result.stdout ?? '')
  }

  /** Read the energy counters, then start the sampling loop. Never throws. */
  async start(): Promise<void> {
    const counters = await this.query(nvidiaSmiEnergyArgs(this.options.devices))
    if (counters === null) return
    this.available = true
    this.counterBeforeMJ = parseEnergyCounters(counters)
    const splitter = new LineSplitter()
    const onLines = (lines: string[]) => {
      const tMs = this.now() - this.t0Ms
      for (const line of lines) {
        const reading = parseNvidiaSmiLine(line)
        if (reading === null) continue
        if (!this.devices.has(reading.gpu)) this.devices.set(reading.gpu, reading)
        this.samples.push(toGpuSample(reading, tMs))
      }
    }
    const loop = execa(this.bin, nvidiaSmiLoopArgs(this.options.intervalMs, this.options.devices), {
      reject: false,
      buffer: false,
      stdin: 'ignore',
      ...(this.options.env === undefined ? {} : {env: this.options.env}),
    })
    this.loop = loop
    loop.stdout?.setEncoding('utf8')
    loop.stdout?.on('data', (chunk: string) => onLines(splitter.push(chunk)))
    loop.stderr?.setEncoding('utf8')
    loop.stderr?.on('data', (chunk: string) => {
      if (this.stderr.length < MAX_STDERR_CHARS) this.stderr += chunk
    })
    this.loopDone = loop.then((result) => {
      onLines(splitter.flush())
      if (!this.stopping) {
        const why = firstLine(this.stderr) || (result.exitCode === undefined ? result.shortMessage : `exit code ${result.exitCode}`)
        this.notes.push(`${this.bin} stopped sampling before the level ended (${why}); the GPU samples cover part of the level.`)
      }
    })
  }

  /** Stop the loop, read the counters again, return what the level recorded. Never throws. */
  async stop(): Promise<GpuSamplerResult> {
    this.stopping = true
    if (this.loop !== null) {
      this.loop.kill('SIGTERM')
      await this.loopDone
    }
    let counterAfterMJ = new Map<number, number>()
    if (this.available) {
      const counters = await this.query(nvidiaSmiEnergyArgs(this.options.devices))
      if (counters !== null) counterAfterMJ = parseEnergyCounters(counters)
      if (this.counterBeforeMJ.size === 0 && this.samples.length > 0) {
        this.notes.push('The GPU driver offers no energy counter (total_energy_consumption); energy is integrated from power samples.')
      }
    }
    return {
      samples: [...this.samples],
      counterBeforeMJ: this.counterBeforeMJ,
      counterAfterMJ,
      devices: [...this.devices.values()],
      notes: [...this.notes],
    }
  }
}
