import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {CapplanError, EngineError} from '../../lib/errors.js'
import {findFreePort} from '../../lib/ports.js'
import {redactArgv} from '../../lib/redact.js'
import {type LlamaServerTimings, protocolPaths, type WireProtocol} from '../http/protocols.js'
import {DEFAULT_REQUEST_TIMEOUT_MS, streamRequest, toEngineEvent} from '../http/stream.js'
import type {Engine, EngineExit, EngineInfo, GenRequest, StreamEvent} from '../types.js'
import {
  bindHostArg,
  capplanInterrupted,
  clientHostFor,
  DEFAULT_BIND_HOST,
  describeExit,
  type ExitStatus,
  type ManagedProcess,
  readLogTail,
  serverDeathError,
  spawnManaged,
  waitForHealth,
} from './process.js'

/**
 * The lifecycle every server capplan spawns shares (llama-server, vllm serve): a free port (and a new one
 * when another process took it before the bind), the spawn with its log file, GET /health until ready or a
 * deadline, the log's last lines in every start failure, exited() and the relabelling of requests failed by
 * a dying server, the server's API key on every request, and stop(). An engine adds its argv, what it probes
 * and its request bodies.
 */

/** What the options of every spawned engine have in common. */
export interface SpawnedServerOptions {
  /** The server's stdout+stderr; default: a file in a new temp directory. Keep it beside the result file. */
  logFile?: string
  /**
   * The address the server binds (--host). Default 127.0.0.1: nothing outside this machine can reach it. A
   * wildcard (0.0.0.0, ::) is reached by capplan on 127.0.0.1.
   */
  host?: string
  /** Give up waiting for /health after this long. Default: the engine's (SpawnedServerSpec.startupTimeoutMs). */
  startupTimeoutMs?: number
  /** Per-request limit; null = none. Default 10 minutes. */
  requestTimeoutMs?: number | null
}

/** How one kind of server differs in the shared lifecycle. */
export interface SpawnedServerSpec {
  kind: 'llamacpp' | 'vllm'
  /** How messages name the server, e.g. 'vllm serve'. */
  name: string
  /** The executable's usual name (info() before the binary is resolved); also names the temp log. */
  bin: string
  startupTimeoutMs: number
  healthPollMs: number
  /** SIGTERM -> SIGKILL grace of stop(). */
  stopGraceMs: number
  /** A log line saying another process took the port between findFreePort and the server's bind. */
  portTaken: RegExp
  /** Follows "Read the log lines below (full log: FILE)" when the server exited while starting. */
  exitedAdvice: string
  /** Follows "Raise --startup-timeout" when it never got ready. */
  startupAdvice: string
}

const BIND_RETRIES = 3
const LOG_TAIL_LINES = 20

export abstract class SpawnedServer implements Engine {
  readonly logFile: string
  protected server: ManagedProcess | null = null
  /** The executable and its arguments of the last start attempt. */
  protected bin: string | null = null
  protected args: string[] = []
  protected endpoint: string | null = null
  /** The key the server demands (its --api-key), sent on every request; null = none. */
  protected apiKey: string | null = null
  private lastExit: ExitStatus | null = null

  protected constructor(
    private readonly spec: SpawnedServerSpec,
    private readonly serverOptions: SpawnedServerOptions,
  ) {
    this.logFile = serverOptions.logFile ?? join(mkdtempSync(join(tmpdir(), `capplan-${spec.bin}-`)), `${spec.bin}.log`)
  }

  abstract start(): Promise<void>
  abstract info(): EngineInfo
  abstract stream(request: GenRequest, signal: AbortSignal): AsyncIterable<StreamEvent>

  /** The server's arguments (after the executable) for one start attempt on `port`. */
  protected abstract serverArgs(port: number): string[]

  /** After the server exited while starting (and not for a taken port): whether to try once more. */
  protected retryAfterExit(_exit: ExitStatus | null): boolean {
    return false
  }

  /** The server's pid while it runs (tests check it is gone after stop()). */
  get pid(): number | null {
    return this.server?.pid ?? null
  }

  protected get bindHost(): string {
    return bindHostArg(this.serverOptions.host ?? DEFAULT_BIND_HOST)
  }

  /** The command line as recorded and shown: the executable and the redacted arguments. */
  protected commandLine(): string[] {
    return [this.bin ?? this.spec.bin, ...redactArgv(this.args)]
  }

  /** Spawn `bin` until GET /health answers 200; an EngineError with the log's last lines when it never does. */
  protected async launch(bin: string, env?: Record<string, string>): Promise<void> {
    this.bin = bin
    const startupTimeoutMs = this.serverOptions.startupTimeoutMs ?? this.spec.startupTimeoutMs
    const deadline = performance.now() + startupTimeoutMs
    for (let attempt = 1; ; attempt++) {
      const port = await findFreePort(this.bindHost)
      this.args = this.serverArgs(port)
      this.endpoint = `http://${clientHostFor(this.bindHost)}:${port}`
      this.server = await spawnManaged(bin, this.args, {logFile: this.logFile, displayArgs: redactArgv(this.args), ...(env === undefined ? {} : {env})})
      const {outcome, exit} = await waitForHealth(this.server, this.endpoint, deadline, this.spec.healthPollMs, this.requestHeaders())
      if (exit !== null) this.lastExit = exit
      if (outcome === 'ready') return
      // Ctrl-C / SIGTERM while it starts (process.ts has already sent it SIGTERM): not the server's failure,
      // whatever it did since (an exit by that SIGTERM is not a bad model file).
      if (outcome === 'interrupted' || capplanInterrupted().aborted) {
        await this.stop()
        throw new CapplanError(
          'INTERRUPTED',
          `Interrupted while ${this.spec.name} was starting; it was stopped before it was ready.`,
          'Nothing was measured: run the same command again.',
        )
      }
      const tail = await readLogTail(this.logFile, LOG_TAIL_LINES)
      await this.stop()
      if (outcome === 'exited' && attempt < BIND_RETRIES && tail.some((line) => this.spec.portTaken.test(line))) continue
      if (outcome === 'exited' && this.retryAfterExit(this.lastExit)) continue
      const display = this.commandLine().join(' ')
      if (outcome === 'exited') {
        throw new EngineError(
          `${this.spec.name} exited before it was ready (${describeExit(this.lastExit)}).`,
          `Read the log lines below (full log: ${this.logFile})${this.spec.exitedAdvice}`,
          display,
          tail,
        )
      }
      throw new EngineError(
        `${this.spec.name} was not ready within ${Math.round(startupTimeoutMs / 1000)} s (GET /health never answered 200).`,
        `Raise --startup-timeout${this.spec.startupAdvice}, or read the log (${this.logFile}).`,
        display,
        tail,
      )
    }
  }

  /** A server that is up but failed a later check: stopped, and the error to throw (with the log's last lines). */
  protected async abandon(message: string, suggestion: string): Promise<EngineError> {
    const tail = await readLogTail(this.logFile, LOG_TAIL_LINES)
    await this.stop()
    return new EngineError(message, suggestion, this.commandLine().join(' '), tail)
  }

  protected usedBeforeStart(): CapplanError {
    return new CapplanError('ENGINE_FAILURE', `The ${this.spec.kind} engine was used before start().`, 'This is a bug in capplan.')
  }

  /**
   * One streamed request to the server; a failure caused by its death becomes an 'engine' error naming the
   * exit. A null body (the engine lacks what it needs to build one) fails it as not running, like no server.
   */
  protected async *serverStream(
    protocol: WireProtocol,
    body: unknown,
    signal: AbortSignal,
    onServerTimings?: (timings: LlamaServerTimings) => void,
  ): AsyncGenerator<StreamEvent> {
    if (this.endpoint === null || this.server === null || body === null) {
      yield {kind: 'error', errorKind: 'engine', message: `The ${this.spec.kind} engine was used before start() (or after stop()).`}
      return
    }
    const server = this.server
    const events = streamRequest({
      url: `${this.endpoint}${protocolPaths[protocol]}`,
      protocol,
      body,
      headers: this.requestHeaders(),
      secrets: this.apiKey === null ? [] : [this.apiKey],
      // Loopback: a fresh connection per request costs microseconds and rules out stale pooled sockets.
      keepAlive: false,
      // A spawned server is always plain http on this machine: node:http stamps each read in the socket's own
      // callback (ITL timing error p99 ~3 ms instead of ~6-13 ms through fetch, bench/loadgen-bench.js).
      transport: 'node-http',
      signal,
      timeoutMs: this.serverOptions.requestTimeoutMs === undefined ? DEFAULT_REQUEST_TIMEOUT_MS : this.serverOptions.requestTimeoutMs,
    })
    // One loop between the socket's events and the level runner (toEngineEvent, serverDeathError): each
    // async generator in between costs promises and allocations per streamed event.
    for await (const event of events) {
      const engineEvent = toEngineEvent(event, onServerTimings)
      if (engineEvent === null) continue
      yield engineEvent.kind === 'error' ? await serverDeathError(engineEvent, server, this.spec.name) : engineEvent
    }
  }

  /** `authorization: Bearer KEY` when the server was started with a key; {} otherwise. Never recorded. */
  requestHeaders(): Record<string, string> {
    return this.apiKey === null ? {} : {authorization: `Bearer ${this.apiKey}`}
  }

  /** How the server ended if it died while in use (null while it runs, before start() and after stop()). */
  exited(): EngineExit | null {
    const status = this.server?.exitStatus() ?? null
    if (this.server === null || status === null) return null
    return {description: `${this.spec.name} exited (${describeExit(status)})`, logFile: this.server.logFile}
  }

  async stop(): Promise<void> {
    const server = this.server
    this.server = null
    if (server !== null) {
      await server.stop(this.spec.stopGraceMs)
      this.lastExit = server.exitStatus()
    }
  }
}
