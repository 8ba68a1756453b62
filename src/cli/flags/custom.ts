/**
 * oclif flags whose text becomes a typed value while oclif parses (Flags.custom), with capplan's errors:
 * a bad value is the parser's CapplanError (INVALID_INPUT, exit 3) with its own message and suggestion.
 */

import {Flags, type Interfaces} from '@oclif/core'

import {CapplanError} from '../../lib/errors.js'
import {parseWholeNumber} from '../parsers/numbers.js'

/**
 * oclif 4 (lib/parser/parse.js, parseFlagOrThrowError) rethrows a custom flag's parse error after rewriting
 * its message to "Parsing --NAME \n\t<message>\nSee more help with --help". The instance, its class and its
 * exit code are kept, so only the message needs keeping: capplan's messages already name the flag, and the
 * --json error object and the tests depend on them word for word. The message becomes a read-only accessor
 * whose setter ignores the rewrite (a non-writable property would make oclif's assignment throw instead).
 */
export function keepMessage(error: unknown): unknown {
  if (error instanceof CapplanError) {
    const message = error.message
    Object.defineProperty(error, 'message', {
      configurable: true,
      enumerable: false,
      get: () => message,
      set: () => {},
    })
  }
  return error
}

/** What Flags.custom<T> returns for a single-valued flag. */
export type ValueFlag<T> = Interfaces.FlagDefinition<T, Interfaces.CustomOptions, {multiple: false; requiredOrDefaulted: false}>

/**
 * A flag whose text goes through `parse` (a src/cli/parsers function) when oclif parses the command line.
 * Typed by hand: Flags.custom's overloads cannot be resolved for a generic T (they test whether T is an array).
 */
export function capplanFlag<T>(parse: (text: string) => T): ValueFlag<T> {
  const definition = Flags.custom<unknown>({
    async parse(input) {
      try {
        return parse(input)
      } catch (error) {
        throw keepMessage(error)
      }
    },
  })
  return definition as ValueFlag<T>
}

/**
 * capplan's integer flag, in place of oclif's Flags.integer (whose min/max errors are oclif's usage errors,
 * exit 2, worded its own way): the same `min` and `max` options, checked by parseWholeNumber, so a zero,
 * negative or fractional count is INVALID_INPUT (exit 3) naming the flag in every command.
 */
export const integerFlag = Flags.custom<number, {min?: number; max?: number}>({
  async parse(input, _context, options) {
    try {
      return parseWholeNumber(input, options.name, {min: options.min, max: options.max})
    } catch (error) {
      throw keepMessage(error)
    }
  },
})
