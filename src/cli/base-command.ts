import {Command, Flags, Interfaces} from '@oclif/core'

import {CapplanError, ExitCode} from '../lib/errors.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof CapplanCommand)['baseFlags'] & T['flags']>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/**
 * Every capplan command: --json (payload on stdout, returned from run()), info and progress on stderr
 * (silent under --json), and domain exit codes that --json does not change.
 */
export abstract class CapplanCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    profiles: Flags.string({
      description: 'Directory of extra profiles (YAML) that override built-ins by id.',
      env: 'CAPPLAN_PROFILES',
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

  /** Informational line on stderr; suppressed under --json so stdout stays one JSON document. */
  protected info(message: string): void {
    if (!this.jsonEnabled()) this.logToStderr(message)
  }

  /** Warnings go to stderr in every mode: a JSON consumer's stdout stays clean, a person still sees them. */
  protected warnLine(message: string): void {
    process.stderr.write(`Warning: ${message}\n`)
  }

  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    // oclif's default catch sets process.exitCode from err.exitCode only; CLIError carries err.oclif.exit.
    const exit = err instanceof CapplanError ? err.exitCode : (err.oclif?.exit ?? err.exitCode ?? ExitCode.unexpected)
    process.exitCode = exit
    if (this.jsonEnabled()) {
      const error =
        err instanceof CapplanError
          ? err.toJSON()
          : {kind: exit === ExitCode.usage ? 'USAGE' : 'UNEXPECTED', exitCode: exit, message: err.message, suggestion: ''}
      this.logJson({error})
      return undefined
    }
    throw err
  }
}
