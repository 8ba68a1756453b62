import type {EngineInfo, RequestErrorKind} from '../results/schema.js'

/**
 * The one interface every engine kind implements: embedded (node-llama-cpp in-process), llamacpp
 * (llama-server), vllm (vllm serve) and openai (an existing endpoint). The load generator only sees this.
 */

export type {EngineInfo} from '../results/schema.js'

/** One generation request. Exactly one of promptTokens / promptText is set. */
export interface GenRequest {
  /** Token ids sent as-is (exact prompt length, no BOS added); null when promptText is used. */
  promptTokens: number[] | null
  /** Text prompt for engines that cannot take token ids; null when promptTokens is used. */
  promptText: string | null
  /** Output length; with ignoreEos the engine generates exactly this many tokens unless it fails. */
  maxTokens: number
  /** Always true for capplan's fixed-length workloads: EOS does not end the request. */
  ignoreEos: true
  /**
   * Let the engine reuse a cached prompt prefix (shared-prefix, multi-turn and trace workloads). Absent or
   * false: the control experiment, no reuse (llama.cpp cache_prompt: false, the embedded engine clears the
   * sequence).
   */
  cachePrompt?: boolean
}

/**
 * What a stream yields. `atMs` is performance.now() in THIS process when the content arrived (a monotonic
 * client clock; never a server timestamp, never Date.now()).
 */
export type StreamEvent =
  | {kind: 'content'; atMs: number; tokens: number; text?: string}
  | {
      kind: 'usage'
      promptTokens: number
      completionTokens: number
      /** Prompt tokens served from the engine's cache, as the engine said; absent/null = it did not say. */
      cachedTokens?: number | null
    }
  | {kind: 'error'; errorKind: RequestErrorKind; message: string}

/** How a spawned engine process ended on its own (not by stop()): for the run's notes. */
export interface EngineExit {
  /** e.g. "llama-server exited (signal SIGKILL)". */
  description: string
  /** The server's log (its last lines usually say why), when there is one. */
  logFile: string | null
}

export interface Engine {
  /** Spawn + wait until ready, or load the model in-process. Throws a CapplanError when it cannot. */
  start(): Promise<void>
  /** What the result file records about the engine (valid after start()). */
  info(): EngineInfo
  tokenize?(text: string): Promise<number[]>
  /**
   * Token ids that are safe in a synthetic prompt: ordinary vocabulary entries, no BOS/EOS/control, byte
   * or unused tokens. Engines that cannot tell leave it out and the prompt builder uses its own range.
   */
  promptTokenPool?(): Promise<number[]>
  /**
   * In-process engines that batch sequences themselves: decode steps run and sequence-steps they carried
   * since start (tokens / steps ~ N at concurrency N when batching works).
   */
  batchStats?(): {steps: number; tokens: number}
  /** One request; ends after the last content event (then usage), or with an error event. */
  stream(request: GenRequest, signal: AbortSignal): AsyncIterable<StreamEvent>
  /**
   * Engines that spawn a server (llamacpp, vllm): how its process ended when it died while capplan still used
   * it; null while it runs, before start() and after stop(). Engines without a process leave it out. Cheap and
   * synchronous: the load generator asks after every failed request, before it sends the next.
   */
  exited?(): EngineExit | null
  /**
   * Headers every request to the engine's endpoint needs besides the load itself (the /metrics scrape):
   * `authorization: Bearer KEY` when the server requires a key. Never recorded or printed.
   */
  requestHeaders?(): Record<string, string>
  /** Always safe to call (also after a failed start); releases every resource. */
  stop(): Promise<void>
}
