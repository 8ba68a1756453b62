import {inspect} from 'node:util'

import {Errors} from '@oclif/core'

import {redactSecrets} from './redact.js'

/**
 * Exit codes are part of capplan's contract (README "Exit codes"); they stay the same under --json.
 * 0 and 1 are Node's (1: a bug in capplan, kind BUG), 2 is oclif's own for bad flags/arguments; capplan's
 * domain errors start at 3.
 */
export const ExitCode = {
  ok: 0,
  bug: 1,
  unexpected: 1,
  usage: 2,
  invalidInput: 3,
  notFound: 4,
  invalidProfile: 5,
  invalidResult: 6,
  insufficientResources: 7,
  engineFailure: 8,
  partialRun: 9,
  interrupted: 130,
} as const

export type ErrorKind = 'INVALID_INPUT' | 'NOT_FOUND' | 'INVALID_PROFILE' | 'INVALID_RESULT' | 'INSUFFICIENT_RESOURCES' | 'ENGINE_FAILURE' | 'PARTIAL_RUN' | 'INTERRUPTED'

const exitCodeByKind: Record<ErrorKind, number> = {
  INVALID_INPUT: ExitCode.invalidInput,
  NOT_FOUND: ExitCode.notFound,
  INVALID_PROFILE: ExitCode.invalidProfile,
  INVALID_RESULT: ExitCode.invalidResult,
  INSUFFICIENT_RESOURCES: ExitCode.insufficientResources,
  ENGINE_FAILURE: ExitCode.engineFailure,
  PARTIAL_RUN: ExitCode.partialRun,
  INTERRUPTED: ExitCode.interrupted,
}

/**
 * An error the user can act on: what is wrong, where, and what to try.
 * Extends oclif's CLIError so oclif renders it and exits with our code.
 * Message and suggestion are passed through redactSecrets: no error ever shows a credential.
 */
export class CapplanError extends Errors.CLIError {
  readonly kind: ErrorKind
  readonly exitCode: number
  readonly suggestion: string

  constructor(kind: ErrorKind, message: string, suggestion: string) {
    const exit = exitCodeByKind[kind]
    const safeSuggestion = redactSecrets(suggestion)
    super(redactSecrets(message), {exit, code: kind, suggestions: [safeSuggestion]})
    this.name = 'Error'
    this.kind = kind
    this.exitCode = exit
    this.suggestion = safeSuggestion
  }

  toJSON(): {kind: ErrorKind; exitCode: number; message: string; suggestion: string} {
    return {kind: this.kind, exitCode: this.exitCode, message: this.message, suggestion: this.suggestion}
  }
}

export const invalidInput = (message: string, suggestion: string) => new CapplanError('INVALID_INPUT', message, suggestion)
export const notFound = (message: string, suggestion: string) => new CapplanError('NOT_FOUND', message, suggestion)
export const invalidProfile = (message: string, suggestion: string) => new CapplanError('INVALID_PROFILE', message, suggestion)
export const invalidResult = (message: string, suggestion: string) => new CapplanError('INVALID_RESULT', message, suggestion)
export const insufficientResources = (message: string, suggestion: string) => new CapplanError('INSUFFICIENT_RESOURCES', message, suggestion)

/** A child process (engine, build tool) failed: which command, its exit, and the last lines it printed. */
export class EngineError extends CapplanError {
  readonly command: string
  readonly logTail: string[]

  constructor(message: string, suggestion: string, command: string, logTail: string[] = []) {
    const tail = logTail.length > 0 ? `\nLast lines from ${command}:\n  ${logTail.join('\n  ')}` : ''
    super('ENGINE_FAILURE', `${message}${tail}`, suggestion)
    this.command = redactSecrets(command)
    this.logTail = logTail.map((line) => redactSecrets(line))
  }
}

export const BUG_SUGGESTION = 'Run again with --debug for the stack, and please report it with the command you ran.'

/**
 * "This is a bug in capplan": an impossible state, or an error capplan did not expect (a TypeError, a
 * RangeError, a library's raw Error). Exit 1 (never a domain code: 3, 6, 8 would send the user after their
 * input, a file or an engine). Deliberately NOT a CapplanError: code that turns CapplanErrors into per-file
 * problems or notes ("Not costed: ...") must let a bug through to the command, which reports it as one line
 * (cli/base-command.ts) with the stack under --debug.
 */
export class CapplanBug extends Error {
  readonly kind = 'BUG' as const
  readonly exitCode: number = ExitCode.bug
  readonly suggestion = BUG_SUGGESTION
  /** The error that revealed the bug (its stack is the useful one); undefined when capplan detected it itself. */
  readonly original: unknown

  constructor(message: string, original?: unknown) {
    super(`capplan hit a bug: ${redactSecrets(message)}`)
    this.name = 'CapplanBug'
    this.original = original
  }

  /** What --debug prints: the original error's stack, else this one's. */
  get debugStack(): string {
    const original = this.original
    if (original instanceof Error && original.stack !== undefined) return redactSecrets(original.stack)
    if (original !== undefined) return redactSecrets(inspect(original))
    return redactSecrets(this.stack ?? this.message)
  }

  toJSON(): {kind: 'BUG'; exitCode: number; message: string; suggestion: string} {
    return {kind: this.kind, exitCode: this.exitCode, message: this.message, suggestion: this.suggestion}
  }
}

/** capplan found itself in a state its code rules out (e.g. about to write a file its own schema refuses). */
export const bug = (message: string) => new CapplanBug(message)

/** Any error as a BUG, unless it already is one: the command's last resort for what no stage expected. */
export function asBug(error: unknown): CapplanBug {
  if (error instanceof CapplanBug) return error
  const message = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error)
  return new CapplanBug(message, error)
}
