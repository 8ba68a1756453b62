/**
 * `capplan engine build`: compile llama.cpp's tools from the source node-llama-cpp ships (engines/llamacpp/build.ts)
 * and say what was built where.
 */

import {availableParallelism} from 'node:os'

import {buildLlamaCppTools, LLAMA_CPP_TOOLS, type LlamaCppTool} from '../../engines/llamacpp/build.js'

/** The TOOL argument's choices. */
export const ENGINE_BUILD_TARGETS = [...LLAMA_CPP_TOOLS, 'all'] as const

export interface EngineBuildPayload {
  backend: 'cpu' | 'cuda'
  native: boolean
  alreadyBuilt: boolean
  buildDir: string
  logFile: string
  tag: string
  commit: string
  durationSeconds: number
  tools: Partial<Record<LlamaCppTool, string>>
}

export interface EngineBuildChoices {
  tool: string
  cuda: 'auto' | 'on' | 'off'
  /** Parallel compile jobs (default: the CPUs available). */
  jobs: number | undefined
  native: boolean
}

/** Build (or find already built) the chosen tools; each step and the compiler's progress go to `info`. */
export async function buildEngineTools(choices: EngineBuildChoices, info: (line: string) => void): Promise<EngineBuildPayload> {
  const tool = choices.tool as LlamaCppTool | 'all'
  const result = await buildLlamaCppTools({
    targets: tool === 'all' ? LLAMA_CPP_TOOLS : [tool],
    cuda: choices.cuda,
    jobs: choices.jobs ?? availableParallelism(),
    native: choices.native,
    onStep: (step) => info(step),
    onLog: progressPrinter((line) => info(line)),
  })
  return {
    backend: result.backend,
    native: result.info.native,
    alreadyBuilt: result.alreadyBuilt,
    buildDir: result.buildDir,
    logFile: result.logFile,
    tag: result.info.tag,
    commit: result.info.commit,
    durationSeconds: result.info.durationSeconds,
    tools: result.tools,
  }
}

/** What was built (or found built), then each tool's path. */
export function renderEngineBuild(payload: EngineBuildPayload): string[] {
  const kind = `${payload.backend}${payload.native ? '' : ', portable'}`
  return [
    payload.alreadyBuilt
      ? `llama.cpp ${payload.tag} (${kind}) is already built in ${payload.buildDir}:`
      : `Built llama.cpp ${payload.tag} (${kind}) in ${payload.durationSeconds}s:`,
    ...Object.entries(payload.tools).map(([name, path]) => `  ${name.padEnd(15)} ${path}`),
  ]
}

/**
 * cmake prints hundreds of lines; show only ninja/make progress ("[37/212] ...") every few percent, so a
 * person sees the build moving without the full log (which is in build.log).
 */
export function progressPrinter(print: (line: string) => void): (line: string) => void {
  let lastShownPercent = -1
  return (line) => {
    const match = /^\[\s*(\d+)\s*\/\s*(\d+)\]/.exec(line) ?? /^\[\s*(\d+)%\]/.exec(line)
    if (match === null) return
    const percent = match[2] === undefined ? Number(match[1]) : Math.floor((Number(match[1]) / Number(match[2])) * 100)
    if (percent >= lastShownPercent + 5 || percent === 100) {
      lastShownPercent = percent
      print(`  ${String(percent).padStart(3)}%  ${line.replace(/^\[[^\]]*\]\s*/, '').slice(0, 100)}`)
    }
  }
}
