import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import type {Engine} from '../../../src/engines/types.js'
import {levelTelemetrySchema, serverMetricsSchema} from '../../../src/results/schema.js'
import {
  LineSplitter,
  NvidiaSmiSampler,
  nvidiaSmiEnergyArgs,
  nvidiaSmiLoopArgs,
  parseEnergyCounters,
  parseNvidiaSmiLine,
  toGpuSample,
} from '../../../src/telemetry/gpu-sampler.js'
import {shouldSampleLocalGpus, withLevelTelemetry} from '../../../src/telemetry/level.js'
import type {EngineInfo} from '../../../src/results/schema.js'

/*
 * Line format: `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits` prints the fields in the
 * order asked, separated by ", ", no header and no units; values the GPU does not report print as "[N/A]"
 * ("[Not Supported]" on some boards). Source: nvidia-smi --help-query-gpu / the nvidia-smi man page, and
 * /work/shared/reference/protocols.md "GPU telemetry". The H100 values below are typical of a loaded H100 SXM.
 */
const H100_LINE = '0, NVIDIA H100 80GB HBM3, GPU-6e4f7c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b, 550.54.15, 81559, 70213, 98, 652.31, 1980, 2619, 63'
const T4_NA_LINE = '1, Tesla T4, GPU-1a2b3c4d-0000-1111-2222-333344445555, 535.104.05, 15360, 3012, [N/A], [N/A], 585, 5000, [Not Supported]'

describe('nvidia-smi line parsing', () => {
  it('asks for exactly the documented fields, CSV without header and units, every 200 ms', () => {
    expect(nvidiaSmiLoopArgs()).toEqual([
      '--query-gpu=index,name,uuid,driver_version,memory.total,memory.used,utilization.gpu,power.draw,clocks.sm,clocks.mem,temperature.gpu',
      '--format=csv,noheader,nounits',
      '-lms',
      '200',
    ])
  })

  it('limits both queries to the GPUs of the engine with -i', () => {
    expect(nvidiaSmiLoopArgs(100, [0, 1]).slice(2)).toEqual(['-i', '0,1', '-lms', '100'])
    expect(nvidiaSmiEnergyArgs([2, 3])).toEqual(['--query-gpu=index,total_energy_consumption', '--format=csv,noheader,nounits', '-i', '2,3'])
    expect(nvidiaSmiEnergyArgs()).toHaveLength(2)
  })

  it('reads a full line', () => {
    expect(parseNvidiaSmiLine(H100_LINE)).toEqual({
      gpu: 0,
      name: 'NVIDIA H100 80GB HBM3',
      uuid: 'GPU-6e4f7c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b',
      driver: '550.54.15',
      memoryTotalMiB: 81559,
      memoryUsedMiB: 70213,
      utilizationPct: 98,
      powerW: 652.31,
      smClockMHz: 1980,
      memClockMHz: 2619,
      temperatureC: 63,
    })
  })

  it('turns [N/A] / [Not Supported] into null and rejects lines that are not readings', () => {
    expect(parseNvidiaSmiLine(T4_NA_LINE)).toMatchObject({gpu: 1, utilizationPct: null, powerW: null, temperatureC: null, smClockMHz: 585})
    expect(parseNvidiaSmiLine('')).toBeNull()
    expect(parseNvidiaSmiLine("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.")).toBeNull()
    expect(parseNvidiaSmiLine('index, name, uuid, driver_version, memory.total [MiB], memory.used [MiB], x, y, z, w, v')).toBeNull()
    // out-of-range utilization (driver glitch) becomes null instead of an invalid result file
    expect(parseNvidiaSmiLine(H100_LINE.replace(', 98,', ', 4294967295,'))?.utilizationPct).toBeNull()
  })

  it('stamps a reading as a result-file GPU sample', () => {
    expect(toGpuSample(parseNvidiaSmiLine(H100_LINE)!, 1234.5)).toEqual({
      tMs: 1234.5,
      gpu: 0,
      powerW: 652.31,
      utilizationPct: 98,
      memoryUsedMiB: 70213,
      smClockMHz: 1980,
      temperatureC: 63,
    })
  })

  it('reads energy counters (mJ), leaving out GPUs without one', () => {
    expect([...parseEnergyCounters('0, 123456789\n1, [N/A]\n2, 42\n')]).toEqual([
      [0, 123456789],
      [2, 42],
    ])
  })

  it('splits a byte stream into lines across chunk boundaries', () => {
    const splitter = new LineSplitter()
    expect(splitter.push('0, a\n1, ')).toEqual(['0, a'])
    expect(splitter.push('b\r\n2')).toEqual(['1, b'])
    expect(splitter.flush()).toEqual(['2'])
    expect(splitter.flush()).toEqual([])
  })
})

// ------------------------------------------------------------------------------------ a fake nvidia-smi

const dir = mkdtempSync(join(tmpdir(), 'capplan-fake-smi-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/**
 * A TEST DOUBLE for nvidia-smi (no NVIDIA GPU here): the energy query answers a counter that grows by
 * 250 J (GPU 0) and 500 J (GPU 1) per call; the -lms loop prints two GPUs every 50 ms until killed;
 * FAKE_SMI_FAIL makes it fail like nvidia-smi without a driver (message on stdout, exit 9).
 */
const FAKE_SMI = `#!/bin/sh
if [ -n "$FAKE_SMI_FAIL" ]; then
  echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."
  exit 9
fi
case "$*" in
  *total_energy_consumption*)
    n=$(cat "$FAKE_SMI_STATE" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$FAKE_SMI_STATE"
    echo "0, $((1000000 + n * 250000))"
    echo "1, $((2000000 + n * 500000))"
    ;;
  *-lms*)
    echo "$*" > "$FAKE_SMI_ARGS"
    i=0
    while true; do
      i=$((i + 1)); echo $i > "$FAKE_SMI_ARGS.ticks"
      echo "${H100_LINE}"
      echo "1, NVIDIA H100 80GB HBM3, GPU-7f, 550.54.15, 81559, 69000, 97, [N/A], 1980, 2619, 61"
      sleep 0.05
    done
    ;;
esac
`
writeFileSync(join(dir, 'nvidia-smi'), FAKE_SMI)
chmodSync(join(dir, 'nvidia-smi'), 0o755)
const fakeEnv = (extra: Record<string, string> = {}) => ({
  PATH: `${dir}:${process.env.PATH ?? ''}`,
  FAKE_SMI_STATE: join(dir, `state-${Math.random()}`),
  FAKE_SMI_ARGS: join(dir, 'args'),
  ...extra,
})
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/** Wait until the fake loop has printed `n` rounds (robust on a loaded machine, unlike a fixed sleep). */
async function waitForRounds(env: {FAKE_SMI_ARGS: string}, n: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      if (Number(readFileSync(`${env.FAKE_SMI_ARGS}.ticks`, 'utf8')) >= n) {
        await sleep(50) // let the last round's lines reach the sampler
        return
      }
    } catch {
      // not started yet
    }
    await sleep(25)
  }
  throw new Error('the fake nvidia-smi loop never printed')
}

describe('NvidiaSmiSampler with a fake nvidia-smi on PATH', () => {
  it('samples between start() and stop(), reads the counter before and after, and ends the loop', async () => {
    const env = fakeEnv()
    const sampler = new NvidiaSmiSampler({env, t0Ms: performance.now()})
    await sampler.start()
    await waitForRounds(env, 3)
    const result = await sampler.stop()
    expect(readFileSync(env.FAKE_SMI_ARGS, 'utf8').trim()).toBe(nvidiaSmiLoopArgs().join(' '))
    const gpu0 = result.samples.filter((s) => s.gpu === 0)
    const gpu1 = result.samples.filter((s) => s.gpu === 1)
    expect(gpu0.length).toBeGreaterThanOrEqual(2)
    expect(gpu1.length).toBe(gpu0.length)
    expect(gpu0[0]).toMatchObject({powerW: 652.31, utilizationPct: 98, memoryUsedMiB: 70213, smClockMHz: 1980, temperatureC: 63})
    expect(gpu1[0]!.powerW).toBeNull()
    for (let i = 1; i < gpu0.length; i++) expect(gpu0[i]!.tMs).toBeGreaterThanOrEqual(gpu0[i - 1]!.tMs)
    // call 1 (start): 1_250_000 / 2_500_000 mJ; call 2 (stop): 1_500_000 / 3_000_000 mJ
    expect([...result.counterBeforeMJ]).toEqual([
      [0, 1_250_000],
      [1, 2_500_000],
    ])
    expect([...result.counterAfterMJ]).toEqual([
      [0, 1_500_000],
      [1, 3_000_000],
    ])
    expect(result.devices.map((d) => d.name)).toEqual(['NVIDIA H100 80GB HBM3', 'NVIDIA H100 80GB HBM3'])
    expect(result.notes).toEqual([])
    // no more samples once stopped: the loop is gone
    const count = result.samples.length
    await sleep(150)
    expect((await sampler.stop()).samples.length).toBe(count)
  })

  it('a missing nvidia-smi is a note, not a failure', async () => {
    const sampler = new NvidiaSmiSampler({bin: join(dir, 'no-such-nvidia-smi')})
    await sampler.start()
    const result = await sampler.stop()
    expect(result.samples).toEqual([])
    expect(result.counterBeforeMJ.size).toBe(0)
    expect(result.notes).toEqual([expect.stringMatching(/no-such-nvidia-smi not found: no GPU telemetry/)])
  })

  it('nvidia-smi without a driver is a note carrying its message', async () => {
    const sampler = new NvidiaSmiSampler({env: fakeEnv({FAKE_SMI_FAIL: '1'})})
    await sampler.start()
    const result = await sampler.stop()
    expect(result.samples).toEqual([])
    expect(result.notes).toEqual([expect.stringContaining("couldn't communicate with the NVIDIA driver")])
  })
})

describe('shouldSampleLocalGpus', () => {
  const info = (kind: EngineInfo['kind'], gpuCount: number, endpoint: string | null): EngineInfo =>
    ({kind, gpuCount, endpoint, version: null, build: null, backend: 'cuda', threads: null, args: []}) as EngineInfo
  it('samples local GPU engines, never CPU runs or remote endpoints', () => {
    expect(shouldSampleLocalGpus(info('vllm', 2, 'http://127.0.0.1:8000'))).toBe(true)
    expect(shouldSampleLocalGpus(info('embedded', 1, null))).toBe(true)
    expect(shouldSampleLocalGpus(info('llamacpp', 0, 'http://127.0.0.1:8080'))).toBe(false)
    expect(shouldSampleLocalGpus(info('openai', 8, 'https://api.example.com'))).toBe(false)
    expect(shouldSampleLocalGpus(info('openai', 1, 'http://localhost:30000'))).toBe(true)
  })
})

describe('withLevelTelemetry', () => {
  it('scrapes /metrics around the level, samples the GPUs and computes energy from the counters', async () => {
    let scrapes = 0
    const server = createServer((req, res) => {
      scrapes++
      res.writeHead(200, {'content-type': 'text/plain'}).end(`llamacpp:tokens_predicted_total ${scrapes === 1 ? 100 : 612}\n`)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const {port} = server.address() as AddressInfo
    const engine = {info: () => ({endpoint: `http://127.0.0.1:${port}`})} as unknown as Engine
    try {
      const t0Ms = performance.now()
      const env = fakeEnv({FAKE_SMI_ARGS: join(dir, 'args-level')})
      const {result, telemetry, serverMetrics} = await withLevelTelemetry(engine, {t0Ms, gpu: {env}, outputTokens: (tokens: number) => tokens}, async () => {
        await waitForRounds(env, 2)
        return 1500
      })
      expect(result).toBe(1500)
      expect(serverMetricsSchema.parse(serverMetrics)).toEqual({
        source: 'llamacpp',
        before: {'llamacpp:tokens_predicted_total': 100},
        after: {'llamacpp:tokens_predicted_total': 612},
        deltas: {'llamacpp:tokens_predicted_total': 512},
      })
      expect(levelTelemetrySchema.parse(telemetry)).toEqual(telemetry)
      // counter: (1_500_000 - 1_250_000) + (3_000_000 - 2_500_000) mJ = 750 J; 750 J / 1500 tokens = 0.5 J/token
      expect(telemetry).toMatchObject({energyJ: 750, energySource: 'counter', joulesPerOutputToken: 0.5, notes: []})
      expect(telemetry.gpuSamples.length).toBeGreaterThanOrEqual(2)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('integrates over the window the caller names when the counter is missing', async () => {
    // The same fake, but its energy query answers [N/A] for both GPUs (a driver without the counter).
    // GPU 0 draws a constant 652.31 W, GPU 1 reports [N/A] power.
    const noCounter = join(dir, 'nvidia-smi-nocounter')
    writeFileSync(noCounter, FAKE_SMI.replace('echo "0, $((1000000 + n * 250000))"', 'echo "0, [N/A]"').replace('echo "1, $((2000000 + n * 500000))"', 'echo "1, [N/A]"'))
    chmodSync(noCounter, 0o755)
    const engine = {info: () => ({endpoint: null})} as unknown as Engine
    const env = fakeEnv({FAKE_SMI_ARGS: join(dir, 'args-nocounter')})
    const {telemetry} = await withLevelTelemetry(
      engine,
      {t0Ms: 0, gpu: {bin: noCounter, env}, outputTokens: () => 1000, windowOf: () => ({startMs: 0, endMs: 2000})},
      async () => waitForRounds(env, 1),
    )
    // constant 652.31 W on GPU 0 held over the 2 s window = 1304.62 J; GPU 1 has no power readings
    expect(telemetry.energySource).toBe('integrated')
    expect(telemetry.energyJ).toBeCloseTo(1304.62, 9)
    expect(telemetry.joulesPerOutputToken).toBeCloseTo(1.30462, 9)
    expect(telemetry.notes).toEqual([expect.stringContaining('no energy counter')])
  })

  it('without an endpoint, a GPU tool or a live /metrics it records notes and no energy', async () => {
    const embedded = {info: () => ({endpoint: null})} as unknown as Engine
    const {telemetry, serverMetrics} = await withLevelTelemetry(embedded, {t0Ms: 0, gpu: {bin: join(dir, 'absent-smi')}, outputTokens: () => 10}, async () => 'done')
    expect(serverMetrics).toBeNull()
    expect(telemetry).toMatchObject({gpuSamples: [], energyJ: null, energySource: null, joulesPerOutputToken: null})
    expect(telemetry.notes).toEqual([expect.stringContaining('absent-smi not found')])

    const deadServer = {info: () => ({endpoint: 'http://127.0.0.1:9'})} as unknown as Engine
    const dead = await withLevelTelemetry(deadServer, {t0Ms: 0, gpu: false, outputTokens: () => 1}, async () => 1)
    expect(dead.serverMetrics).toBeNull()
    expect(dead.telemetry.notes).toEqual([expect.stringContaining('GET http://127.0.0.1:9/metrics failed')])
  })

  it('stops the sampler and rethrows when the level throws', async () => {
    const env = fakeEnv()
    const engine = {info: () => ({endpoint: null})} as unknown as Engine
    await expect(
      withLevelTelemetry(engine, {t0Ms: 0, gpu: {env}, outputTokens: () => 0}, async () => {
        await sleep(100)
        throw new Error('interrupted')
      }),
    ).rejects.toThrow('interrupted')
    // the loop was killed: its energy counter was read a second time by stop()
    expect(readFileSync(env.FAKE_SMI_STATE, 'utf8').trim()).toBe('2')
  })
})
