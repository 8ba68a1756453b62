import {Command, Errors, Flags, type Interfaces} from '@oclif/core'

import {asBug, CapplanError, ExitCode} from '../lib/errors.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof CapplanCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/**
 * Every capplan command: --json (payload on stdout, returned from run()), info and progress on stderr
 * (silent under --json), and domain exit codes that --json does not change. An error that is neither
 * capplan's (CapplanError) nor oclif's own (bad flags: exit 2) is a bug in capplan: one line, exit 1, its stack
 * only under --debug (or CAPPLAN_DEBUG=1).
 */
export abstract class CapplanCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    profiles: Flags.string({
      description: 'Directory of extra profiles (YAML) that override built-ins by id.',
      env: 'CAPPLAN_PROFILES',
      helpGroup: 'GLOBAL',
    }),
    debug: Flags.boolean({
      description: 'On a bug in capplan (exit 1), print its stack trace (stderr) to include in a report.',
      env: 'CAPPLAN_DEBUG',
      helpGroup: 'GLOBAL',
    }),
  }

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  /** Positional words oclif parsed (with `static strict = false`: unknown ones and everything after `--`). */
  protected parsedArgv: string[] = []

  public override async init(): Promise<void> {
    await super.init()
    const {args, argv, flags} = await this.parse({
      args: this.ctor.args,
      baseFlags: (super.ctor as typeof CapplanCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      flags: this.ctor.flags,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.args = args as BaseArgs<T>
    this.parsedArgv = argv.map(String)
  }

  /**
   * The --json payload on stdout. oclif's own colorizes it with a regex tokenizer that re-slices the text per
   * token (~0.1 s for the search's 0.8 MB); without a JSON theme the colors are none, so the text is the same.
   */
  public override logJson(json: unknown): void {
    if (this.config.theme?.json !== undefined) {
      super.logJson(json)
      return
    }
    // console.log, as oclif's ux.stdout prints (in-process tests capture it there)
    console.log(JSON.stringify(json, null, 2))
  }

  /** Informational line on stderr; suppressed under --json so stdout stays one JSON document. */
  protected info(message: string): void {
    if (!this.jsonEnabled()) this.logToStderr(message)
  }

  /** Warnings go to stderr in every mode: a JSON consumer's stdout stays clean, a person still sees them. */
  protected warnLine(message: string): void {
    process.stderr.write(`Warning: ${message}\n`)
  }

  /** --debug, also when the error came before the flags were parsed (then: the word itself, or CAPPLAN_DEBUG). */
  private debugEnabled(): boolean {
    const parsed = (this.flags as {debug?: boolean} | undefined)?.debug
    if (parsed !== undefined) return parsed
    const own = this.argv.includes('--') ? this.argv.slice(0, this.argv.indexOf('--')) : this.argv
    return own.includes('--debug') || /^(1|true|yes)$/i.test(process.env['CAPPLAN_DEBUG'] ?? '')
  }

  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (!(err instanceof CapplanError) && !isOclifError(err)) {
      const bug = asBug(err)
      process.exitCode = bug.exitCode
      if (this.jsonEnabled()) this.logJson({error: bug.toJSON()})
      else process.stderr.write(`${bug.message} (run again with --debug for the stack; please report it)\n`)
      if (this.debugEnabled()) process.stderr.write(`${bug.debugStack}\n`)
      if (this.jsonEnabled()) return undefined
      // Printed already: oclif's handler only exits (an ExitError is not printed), with 1.
      throw new Errors.ExitError(bug.exitCode)
    }
    // oclif's default catch sets process.exitCode from err.exitCode only; CLIError carries err.oclif.exit.
    const exit = err instanceof CapplanError ? err.exitCode : (err.oclif?.exit ?? err.exitCode ?? ExitCode.unexpected)
    process.exitCode = exit
    if (this.jsonEnabled()) {
      const error = err instanceof CapplanError ? err.toJSON() : {kind: exit === ExitCode.usage ? 'USAGE' : 'UNEXPECTED', exitCode: exit, message: err.message, suggestion: ''}
      this.logJson({error})
      return undefined
    }
    throw err
  }
}

/** oclif's own errors (flag and argument parsing, this.error, this.exit) keep oclif's exit code (2 for usage). */
function isOclifError(err: unknown): boolean {
  if (err instanceof Errors.CLIError) return true
  const oclif = (err as {oclif?: unknown} | null)?.oclif
  return typeof oclif === 'object' && oclif !== null
}
