import {statSync} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import {bug, type CapplanError, insufficientResources, invalidInput, notFound} from '../lib/errors.js'
import {errnoCode, fileWriteError, isDiskFull, openOutputFile, writeFileComplete} from '../lib/safe-write.js'
import {resultFileName} from './naming.js'
import {formatSchemaIssues} from './read.js'
import {type ResultFile, resultFileSchema} from './schema.js'

/**
 * The JSON text of a result file: readable at the top, one line per request (a request holds one offset per
 * chunk; pretty-printing those would make files of tens of thousands of lines). JSON.parse gives `result` back.
 */
export function serializeResultFile(result: ResultFile): string {
  const {levels, ...head} = result
  const levelTexts = levels.map((level) => {
    const {requests, ...rest} = level
    const requestLines = requests.map((request) => `  ${JSON.stringify(request)}`)
    const requestsText = requestLines.length === 0 ? '[]' : `[\n${requestLines.join(',\n')}\n]`
    return appendRawProperty(JSON.stringify(rest, null, 2), 'requests', requestsText)
  })
  const levelsText = levelTexts.length === 0 ? '[]' : `[\n${levelTexts.map((text) => indent(text, 2)).join(',\n')}\n]`
  return `${appendRawProperty(JSON.stringify(head, null, 2), 'levels', levelsText)}\n`
}

/** Add `"key": raw` as the last property of a JSON object printed with 2-space indentation. */
function appendRawProperty(objectText: string, key: string, rawValue: string): string {
  const property = `  ${JSON.stringify(key)}: ${indent(rawValue, 2).trimStart()}`
  if (objectText === '{}') return `{\n${property}\n}`
  return `${objectText.slice(0, -2)},\n${property}\n}`
}

function indent(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces)
  return text
    .split('\n')
    .map((line) => pad + line)
    .join('\n')
}

/**
 * Validate before anything touches the disk: an invalid file is capplan's bug (BUG, exit 1: not the user's
 * result file, which INVALID_RESULT would blame), caught here, not by `report`.
 */
function validated(result: ResultFile, where: string): ResultFile {
  const parsed = resultFileSchema.safeParse(result)
  if (!parsed.success) {
    throw bug(`refusing to write ${where}: the result does not match the result-file schema: ${formatSchemaIssues(parsed.error.issues)}`)
  }
  return parsed.data
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

const codeOf = errnoCode

/**
 * What is still on disk after a failed save of `path`, said exactly (looked up now, after the failure): the
 * previous save when the file is still there, otherwise that this run's measurements so far are lost.
 */
export function previousSaveState(path: string, savedLevels: number): string {
  const lookup = (target: string): 'present' | 'absent' | 'unknown' => {
    try {
      statSync(target)
      return 'present'
    } catch (error) {
      return codeOf(error) === 'ENOENT' || codeOf(error) === 'ENOTDIR' ? 'absent' : 'unknown'
    }
  }
  const file = lookup(path)
  if (file === 'present') return `The file still holds the previous save (${plural(savedLevels, 'level')}); only what was measured since is lost.`
  if (file === 'unknown') return `The previous save (${plural(savedLevels, 'level')}) may still be in the file; capplan cannot look.`
  if (lookup(dirname(path)) === 'absent') {
    return `The directory is gone, and the previous save (${plural(savedLevels, 'level')}) with it: the measurements of this run so far are lost (unless the directory was moved, not deleted).`
  }
  return `The file is gone (deleted during the run): the measurements of this run so far are lost.`
}

/**
 * A filesystem failure while writing a result file, as one CapplanError naming the file and directory and what
 * is kept (`kept()`, worked out only when needed). Full disk (ENOSPC, EDQUOT, EFBIG, or bytes missing after
 * fsync): INSUFFICIENT_RESOURCES (7). The results directory removed (ENOENT): NOT_FOUND (4, "a missing file
 * or directory"). Not writable (EACCES, EPERM, EROFS): INVALID_INPUT (3, the --results-dir given cannot be
 * used). Any other filesystem error: INVALID_INPUT naming the file (lib/safe-write). Not an errno error: passed on.
 */
function diskError(error: unknown, path: string, phase: 'create' | 'save', kept: () => string): CapplanError | unknown {
  const code = codeOf(error)
  const dir = dirname(path)
  if (isDiskFull(error)) {
    return insufficientResources(
      `The disk is full: could not write the result file ${path}. ${kept()}`,
      'Free some space (or pass --results-dir on another disk) and run again.',
    )
  }
  if ((code === 'ENOENT' || code === 'ENOTDIR') && phase === 'create') {
    return notFound(
      `Cannot create the result file ${path}: part of the directory path ${dir} is missing or not a directory (${code}). ${kept()}`,
      'Pass --results-dir with a directory (it is created when missing, but not below a file).',
    )
  }
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return notFound(
      `The results directory ${dir} no longer exists (removed while capplan ran?): could not write the result file ${basename(path)}. ${kept()}`,
      'Leave the results directory in place while a run lasts (or pass --results-dir where no cleaner removes files) and run again.',
    )
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return invalidInput(
      `Cannot write the result file ${path}: the results directory ${dir} is not writable (${code}). ${kept()}`,
      'Make the directory writable again, or pass --results-dir with a directory you can write to, and run again.',
    )
  }
  return code === '' ? error : fileWriteError(error, path, {what: 'the result file', kept: kept()})
}

/**
 * Create `dir/name` (or name-2, name-3, ...) holding `text`, never replacing an existing file. The text goes
 * to a temporary file first (complete, fsynced, size checked: lib/safe-write), then link(2) gives it its
 * final name: link fails with EEXIST instead of overwriting, so the file appears complete and no other file
 * is ever clobbered.
 */
async function createExclusive(dir: string, name: string, text: string): Promise<string> {
  await mkdir(dir, {recursive: true})
  const file = await openOutputFile(join(dir, name), {exclusive: true})
  try {
    await file.write(text)
    const stem = name.replace(/\.json$/, '')
    for (let attempt = 1; attempt <= 10_000; attempt++) {
      const candidate = join(dir, attempt === 1 ? name : `${stem}-${attempt}.json`)
      try {
        await file.commit(candidate)
        return candidate
      } catch (error) {
        if (codeOf(error) !== 'EEXIST') throw error
      }
    }
    throw invalidInput(`Too many result files named ${stem}-N.json in ${dir}.`, 'Move old results elsewhere.')
  } finally {
    await file.discard()
  }
}

/**
 * Validate and write a result file into `dir` (created if missing) under resultFileName(); never overwrites:
 * when the name exists, "-2", "-3", ... is added. Returns the path written.
 */
export async function writeResultFile(dir: string, result: ResultFile): Promise<string> {
  const name = resultFileName(result)
  const text = serializeResultFile(validated(result, join(dir, name)))
  try {
    return await createExclusive(dir, name, text)
  } catch (error) {
    throw diskError(error, join(dir, name), 'create', () => 'Nothing was written.')
  }
}

/**
 * Incremental saving for a long run: `create` picks the file name once and writes the first state;
 * `save` atomically replaces THAT file (complete temp file + rename, lib/safe-write) after each finished level or on a signal, so the file on
 * disk is always valid and holds everything measured so far. It is the only overwrite capplan ever does, and
 * only of the file this run created.
 */
export class ResultFileWriter {
  private savedLevels: number

  private constructor(
    readonly path: string,
    private readonly runId: string,
    levels: number,
  ) {
    this.savedLevels = levels
  }

  static async create(dir: string, result: ResultFile): Promise<ResultFileWriter> {
    const path = await writeResultFile(dir, result)
    return new ResultFileWriter(path, result.id, result.levels.length)
  }

  async save(result: ResultFile): Promise<void> {
    if (result.id !== this.runId) {
      throw bug(`refusing to save run ${result.id} into ${basename(this.path)}, which belongs to run ${this.runId}`)
    }
    const text = serializeResultFile(validated(result, this.path))
    try {
      await writeFileComplete(this.path, text)
    } catch (error) {
      throw diskError(error, this.path, 'save', () => previousSaveState(this.path, this.savedLevels))
    }
    this.savedLevels = result.levels.length
  }
}
