import {createRequire} from 'node:module'
import {extname} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {type PerformanceEntry, PerformanceObserver} from 'node:perf_hooks'
import {isMainThread, parentPort, Worker, workerData} from 'node:worker_threads'

import {type GcPauseDistribution, gcPauseDistribution} from '../../telemetry/client-health.js'
import type {ClientEvent} from './protocols.js'
import {setThreadedStreams, type StreamRequestOptions, streamRequestHere} from './stream.js'

/**
 * Client threads (issue 17): the HTTP streams are read, stamped, framed and parsed in N worker threads, each
 * with its own small heap, and only compact per-event records cross to the main thread, which keeps all the
 * bookkeeping (the level runner, the request records, the result file). Two things follow:
 * - a chunk's arrival time is taken in the thread that reads its socket, so the main thread's garbage
 *   collections (its heap holds every request record of the run) and its bookkeeping no longer stamp
 *   events late; a worker's heap holds only the streams it reads;
 * - the parsing, which is most of the client's CPU per event, runs on every core.
 *
 * A worker runs the same streamRequest as the main thread (streamRequestHere: same transports, same SSE
 * framing, same interpreter, same error events), so what is measured does not change. Times cross as the
 * main thread's performance.now(): the worker adds (its timeOrigin - the main thread's), both on the same
 * monotonic clock.
 *
 * Worker -> main: one message per worker per loop turn, a flat array [id, code, ...]: code 0 a content event
 * (atMs, tokens, text), 1 any other event (the event), 2 the request's end; and, asked, an object: its GC
 * pauses over a window. Main -> worker: start / abort / gc.
 *
 * Each worker watches its own garbage collections (a PerformanceObserver 'gc' in its thread: the main
 * thread's observer sees only the main thread's), so a level's clientHealth.threadGcPauseMs holds the
 * pauses that delayed the workers' stamps (clientThreadGcPauses, called by watchClientHealth).
 *
 * This module is also the worker's script: loaded in a thread whose workerData carries WORKER_MARK, it serves
 * requests (bottom of the file). In the offline kit's single-file bundle (bin/write-bundle.js) that file is
 * the bundle, loaded with CAPPLAN_BUNDLE_NO_MAIN set so that it does not run the CLI again.
 */

const WORKER_MARK = 'capplanClientThread'

/** Everything of a request but its signal and clock (those stay on their side). */
type WireOptions = Omit<StreamRequestOptions, 'signal' | 'clock'>

type ToWorker = {t: 'start'; id: number; options: WireOptions} | {t: 'abort'; id: number} | {t: 'gc'; id: number; fromMs: number; toMs: number}

/** A worker's answer to 'gc': its pauses that started in [fromMs, toMs] (null: its runtime has no 'gc' entries). */
interface GcReply {
  t: 'gc'
  id: number
  gc: GcPauseDistribution | null
}

/** How long clientThreadGcPauses waits for a worker's answer (a busy worker answers within a loop turn). */
const GC_REPLY_TIMEOUT_MS = 2000

const CONTENT = 0
const OTHER = 1
const END = 2

interface Pending {
  queue: ClientEvent[]
  ended: boolean
  wake: (() => void) | null
}

interface Thread {
  worker: Worker
  inFlight: number
  failure: string | null
}

/**
 * The worker's script: this module's own file; a .ts source file (tests) is loaded through tsx's loader,
 * registered inside the worker (Node 20 does not apply `--import` hooks to a worker's first module).
 */
function workerScript(): {script: URL | string; evaluated: boolean} {
  const url = new URL(import.meta.url)
  if (extname(fileURLToPath(url)) !== '.ts') return {script: url, evaluated: false}
  // require.resolve finds the CommonJS build (index.cjs); the worker imports its ES module twin.
  const api = pathToFileURL(
    createRequire(import.meta.url)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href
  return {script: `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}) })`, evaluated: true}
}

/** N client threads; streams are spread over them (the one with the fewest in flight). */
export class ClientThreads {
  private readonly threads: Thread[] = []
  private readonly pending = new Map<number, Pending>()
  private readonly gcReplies = new Map<number, (gc: GcPauseDistribution | null) => void>()
  private nextId = 1
  private closed = false

  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`client threads: ${size} is not a positive integer`)
  }

  /** The events of one request, streamed in a client thread; same contract as streamRequest. */
  async *stream(options: StreamRequestOptions): AsyncGenerator<ClientEvent> {
    if (this.closed) {
      yield* streamRequestHere(options)
      return
    }
    const thread = this.pick()
    const id = this.nextId++
    const entry: Pending = {queue: [], ended: false, wake: null}
    this.pending.set(id, entry)
    if (thread.inFlight++ === 0) thread.worker.ref()
    const {signal, clock: _clock, ...wire} = options
    const onAbort = () => thread.worker.postMessage({t: 'abort', id} satisfies ToWorker)
    signal.addEventListener('abort', onAbort, {once: true})
    try {
      thread.worker.postMessage({t: 'start', id, options: wire} satisfies ToWorker)
      for (;;) {
        const event = entry.queue.shift()
        if (event !== undefined) {
          yield event
          continue
        }
        if (entry.ended) return
        if (thread.failure !== null) {
          yield {kind: 'error', errorKind: 'engine', message: `capplan's client thread stopped while reading this request: ${thread.failure}`}
          return
        }
        await new Promise<void>((resolve) => (entry.wake = resolve))
      }
    } finally {
      signal.removeEventListener('abort', onAbort)
      // The consumer stopped early (or the thread failed): the worker stops reading this request.
      if (!entry.ended && thread.failure === null) thread.worker.postMessage({t: 'abort', id} satisfies ToWorker)
      this.pending.delete(id)
      if (--thread.inFlight === 0) thread.worker.unref()
    }
  }

  /**
   * Each running thread's GC pauses that started in [fromMs, toMs] (this thread's performance.now()), in the
   * order the threads were started; a thread that does not answer within GC_REPLY_TIMEOUT_MS, or whose runtime
   * has no 'gc' entries, is left out.
   */
  async gcPauses(fromMs: number, toMs: number): Promise<GcPauseDistribution[]> {
    const answers = await Promise.all(
      this.threads.map(
        (thread) =>
          new Promise<GcPauseDistribution | null>((resolve) => {
            const id = this.nextId++
            const timer = setTimeout(() => {
              this.gcReplies.delete(id)
              resolve(null)
            }, GC_REPLY_TIMEOUT_MS)
            this.gcReplies.set(id, (gc) => {
              clearTimeout(timer)
              this.gcReplies.delete(id)
              resolve(gc)
            })
            thread.worker.postMessage({t: 'gc', id, fromMs, toMs} satisfies ToWorker)
          }),
      ),
    )
    return answers.filter((gc): gc is GcPauseDistribution => gc !== null)
  }

  /** Stops every thread (requests still in flight end with an error event). */
  async close(): Promise<void> {
    this.closed = true
    const threads = this.threads.splice(0)
    await Promise.all(threads.map((thread) => thread.worker.terminate()))
  }

  private pick(): Thread {
    if (this.threads.length < this.size) return this.spawn()
    let best = this.threads[0]!
    for (const thread of this.threads) if (thread.inFlight < best.inFlight) best = thread
    return best
  }

  private spawn(): Thread {
    const {script, evaluated} = workerScript()
    const worker = new Worker(script, {
      eval: evaluated,
      workerData: {[WORKER_MARK]: true, mainTimeOrigin: performance.timeOrigin},
      env: {...process.env, CAPPLAN_BUNDLE_NO_MAIN: '1'},
    })
    const thread: Thread = {worker, inFlight: 0, failure: null}
    worker.unref()
    worker.on('message', (message: unknown[] | GcReply) => {
      if (Array.isArray(message)) this.deliver(message)
      else this.gcReplies.get(message.id)?.(message.gc)
    })
    const fail = (why: string) => {
      if (thread.failure !== null) return
      thread.failure = why
      const index = this.threads.indexOf(thread)
      if (index >= 0) this.threads.splice(index, 1)
      for (const entry of this.pending.values()) entry.wake?.()
    }
    worker.on('error', (error) => fail(error instanceof Error ? error.message : String(error)))
    worker.on('exit', (code) => fail(`it exited with code ${code}`))
    this.threads.push(thread)
    return thread
  }

  private deliver(batch: unknown[]): void {
    for (let i = 0; i < batch.length;) {
      const entry = this.pending.get(batch[i] as number)
      const code = batch[i + 1] as number
      let event: ClientEvent | null = null
      if (code === CONTENT) {
        event = {kind: 'content', atMs: batch[i + 2] as number, tokens: batch[i + 3] as number, text: batch[i + 4] as string}
        i += 5
      } else if (code === OTHER) {
        event = batch[i + 2] as ClientEvent
        i += 3
      } else {
        i += 2
        if (entry !== undefined) entry.ended = true
      }
      if (entry === undefined) continue // a request its consumer already left
      if (event !== null) entry.queue.push(event)
      const wake = entry.wake
      entry.wake = null
      wake?.()
    }
  }
}

let active: ClientThreads | null = null

/**
 * The GC pauses of every client thread in use over [fromMs, toMs] (performance.now() of the main thread), one
 * entry per thread; null when the streams are read in the main thread (no client threads): watchClientHealth's
 * threadGc.
 */
export async function clientThreadGcPauses(fromMs: number, toMs: number): Promise<GcPauseDistribution[] | null> {
  return active === null ? null : active.gcPauses(fromMs, toMs)
}

/**
 * Stream every later request (streamRequest) through `count` client threads; 1 = in this thread, as without
 * threads (unless workersEvenForOne). Process-wide (one run's setting: `capplan bench --client-threads`). Returns a function that puts
 * the previous setting back and stops the threads.
 */
export function useClientThreads(count: number, {workersEvenForOne = false} = {}): () => Promise<void> {
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`client threads: ${count} is not a positive integer`)
  const previous = active
  // workersEvenForOne (perf/loadgen-bench.ts's A/B): one worker thread reading every stream, the main thread
  // only keeping the books.
  const threads = count === 1 && !workersEvenForOne ? null : new ClientThreads(count)
  active = threads
  setThreadedStreams(threads === null ? null : (options) => threads.stream(options))
  return async () => {
    active = previous
    setThreadedStreams(previous === null ? null : (options) => previous.stream(options))
    await threads?.close()
  }
}

// ------------------------------------------------------------------------------- the worker's side

/** A worker keeps at most this many GC entries between two 'gc' questions (the oldest half goes beyond). */
const MAX_GC_ENTRIES = 100_000

function serve(port: NonNullable<typeof parentPort>, mainTimeOrigin: number): void {
  const shift = performance.timeOrigin - mainTimeOrigin
  const clock = () => performance.now() + shift
  const controllers = new Map<number, AbortController>()
  // This thread's own collections, as (start on the main thread's clock, duration) pairs.
  const gcStarts: number[] = []
  const gcDurations: number[] = []
  const keepGc = (entries: readonly PerformanceEntry[]) => {
    for (const entry of entries) {
      gcStarts.push(entry.startTime + shift)
      gcDurations.push(entry.duration)
    }
    if (gcStarts.length > MAX_GC_ENTRIES) {
      gcStarts.splice(0, MAX_GC_ENTRIES / 2)
      gcDurations.splice(0, MAX_GC_ENTRIES / 2)
    }
  }
  let observer: PerformanceObserver | null = null
  try {
    observer = new PerformanceObserver((list) => keepGc(list.getEntries()))
    observer.observe({entryTypes: ['gc']})
  } catch {
    observer = null // a runtime without 'gc' entries: this thread answers null
  }
  const answerGc = (id: number, fromMs: number, toMs: number) => {
    if (observer === null) {
      port.postMessage({t: 'gc', id, gc: null} satisfies GcReply)
      return
    }
    // Entries are delivered asynchronously; takeRecords() collects those not delivered yet.
    keepGc(observer.takeRecords())
    const inWindow: number[] = []
    let before = 0
    for (let k = 0; k < gcStarts.length; k++) {
      const start = gcStarts[k]!
      if (start < fromMs) before = k + 1
      else if (start <= toMs) inWindow.push(gcDurations[k]!)
    }
    // Windows come in order (one level after another): what started before this one is not asked again.
    gcStarts.splice(0, before)
    gcDurations.splice(0, before)
    port.postMessage({t: 'gc', id, gc: gcPauseDistribution(inWindow)} satisfies GcReply)
  }
  let batch: unknown[] = []
  const flush = () => {
    const out = batch
    batch = []
    port.postMessage(out)
  }
  const emit = (...items: unknown[]) => {
    if (batch.length === 0) setImmediate(flush)
    for (const item of items) batch.push(item)
  }
  const run = async (id: number, options: WireOptions) => {
    const controller = new AbortController()
    controllers.set(id, controller)
    try {
      for await (const event of streamRequestHere({...options, signal: controller.signal, clock})) {
        if (event.kind === 'content') emit(id, CONTENT, event.atMs, event.tokens, event.text ?? '')
        else emit(id, OTHER, event)
      }
    } catch (error) {
      // streamRequest never throws; should it ever, the request still ends with one error event.
      emit(id, OTHER, {kind: 'error', errorKind: 'engine', message: `capplan's client thread: ${error instanceof Error ? error.message : String(error)}`})
    } finally {
      controllers.delete(id)
      emit(id, END)
    }
  }
  port.on('message', (message: ToWorker) => {
    if (message.t === 'start') void run(message.id, message.options)
    else if (message.t === 'gc') answerGc(message.id, message.fromMs, message.toMs)
    else controllers.get(message.id)?.abort()
  })
}

const data = workerData as Record<string, unknown> | null
if (!isMainThread && parentPort !== null && data !== null && typeof data === 'object' && data[WORKER_MARK] === true) {
  serve(parentPort, data['mainTimeOrigin'] as number)
}
