import {randomBytes} from 'node:crypto'
import {copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {execa, type Result} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {findLlamaCppTool} from '../../src/engines/llamacpp/build.js'
import {ensureSyntheticModel} from '../../src/gguf/synth.js'
import {readResultFile} from '../../src/results/read.js'
import {llamaFixture, rawHttpRoute, type RecordedRequest, type ReplayRoute, type ReplayServer, startReplayServer} from '../helpers/replay-server.js'
import {tinyQwen2, writeTinyProfile} from '../helpers/tiny-models.js'

/**
 * Issue 7 §4, end to end through the built CLI (node bin/run.js after `npm run build`):
 * - a model name like `x; rm -rf ~` is just a name: every child gets an argument array, never a shell;
 * - a planted API key never reaches anything capplan writes or prints, even when the server echoes it back.
 */

const repo = path.resolve(import.meta.dirname, '..', '..')
const bin = path.join(repo, 'bin', 'run.js')
const HOSTILE = 'x; rm -rf ~'
const serverBin = await findLlamaCppTool('llama-server')
if (serverBin === null) console.warn('[skip] security (llamacpp part): no llama-server binary (run `capplan engine build` or set CAPPLAN_LLAMA_BIN_DIR).')

/** Every file under `dir`, recursively (dot files included: temporary and hidden files count too). */
function allFiles(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    return entry.isDirectory() ? allFiles(full) : [full]
  })
}

/** argv of every live process whose argv contains `needle` (from /proc: NUL-separated). */
function processesWithArg(needle: string): {pid: number; argv: string[]}[] {
  const found: {pid: number; argv: string[]}[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').slice(0, -1)
      if (argv.some((arg) => arg.includes(needle))) found.push({pid: Number(entry), argv})
    } catch {
      // the process ended while we looked
    }
  }
  return found
}

/** 50 distinct text prompts (a dataset run needs one per request: repeating one would hit a prefix cache). */
function writeDataset(file: string): void {
  const lines = Array.from({length: 50}, (_, i) => JSON.stringify({prompt: `Prompt number ${i}: say something about the number ${i}.`}))
  writeFileSync(file, `${lines.join('\n')}\n`)
}

describe('a model name is just a name (argument arrays, never a shell)', () => {
  let home: string
  let sentinel: string
  let server: ReplayServer
  const env = () => ({HOME: home, CAPPLAN_CACHE_DIR: path.join(home, 'cache'), CAPPLAN_PROFILES: path.join(home, 'profiles')})

  beforeAll(async () => {
    home = mkdtempSync(path.join(os.tmpdir(), 'capplan-home-'))
    sentinel = path.join(home, 'sentinel.txt')
    writeFileSync(sentinel, 'still here\n')
    writeTinyProfile(path.join(home, 'profiles'))
    writeDataset(path.join(home, 'prompts.jsonl'))
    server = await startReplayServer()
    // The server lists the hostile id (capplan refuses a --model-id the server does not serve); the streams are
    // llama-server's recorded bytes.
    server.route('GET /v1/models', {
      status: 200,
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({object: 'list', data: [{id: HOSTILE, object: 'model', owned_by: 'llamacpp'}]}),
    })
    server.route('POST /v1/completions', {body: llamaFixture('v1_completions_stream.sse')})
  })
  afterAll(async () => {
    await server.close()
    rmSync(home, {recursive: true, force: true})
  })

  it(`--engine openai --model-id '${HOSTILE}': sent verbatim in every request body, recorded verbatim, HOME untouched`, async () => {
    const results = path.join(home, 'results-openai')
    const run = await execa(
      'node',
      [
        bin,
        'bench',
        '--engine',
        'openai',
        '--endpoint',
        server.url,
        '--model-id',
        HOSTILE,
        '--dataset',
        path.join(home, 'prompts.jsonl'),
        '--output-tokens',
        '32',
        '--concurrency',
        '1',
        '--requests',
        '2',
        '--results-dir',
        results,
        '--json',
      ],
      {cwd: home, env: env(), reject: false},
    )
    expect(run.exitCode, run.stderr).toBe(0)
    expect(readFileSync(sentinel, 'utf8')).toBe('still here\n')
    const completions = server.requests.filter((request) => request.path === '/v1/completions')
    // warmup + 2 measured requests, each naming the model exactly as given
    expect(completions.length).toBeGreaterThanOrEqual(2)
    for (const request of completions) expect((JSON.parse(request.body) as {model: string}).model).toBe(HOSTILE)
    const [name] = readdirSync(results).filter((entry) => entry.endsWith('.json'))
    const file = await readResultFile(path.join(results, name!))
    expect(file.engine.args).toContain(`model=${HOSTILE}`)
    // One argv word, as typed: never split or interpreted by a shell.
    expect(file.capplan.command).toContain(HOSTILE)
  })

  it.skipIf(serverBin === null)(`--engine llamacpp --model-file '${HOSTILE}.gguf': llama-server's argv holds the path as one argument`, async () => {
    const previousCache = process.env['CAPPLAN_CACHE_DIR']
    process.env['CAPPLAN_CACHE_DIR'] = path.join(home, 'cache')
    const synthetic = await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4'})
    if (previousCache === undefined) delete process.env['CAPPLAN_CACHE_DIR']
    else process.env['CAPPLAN_CACHE_DIR'] = previousCache
    const modelFile = path.join(home, `${HOSTILE}.gguf`)
    copyFileSync(synthetic.path, modelFile)

    const results = path.join(home, 'results-llamacpp')
    const child = execa(
      'node',
      [
        bin,
        'bench',
        '--engine',
        'llamacpp',
        '--model-file',
        modelFile,
        '--model',
        'tiny-qwen2',
        '--server-bin',
        serverBin!,
        '--threads',
        '1',
        '--concurrency',
        '1,2',
        '--requests',
        '4',
        '--input-tokens',
        '16',
        '--output-tokens',
        '64',
        '--results-dir',
        results,
        '--json',
      ],
      {cwd: home, env: env(), reject: false},
    )
    // While it runs: the real llama-server's argv (from /proc) has the path as ONE argument after -m.
    let serverArgv: string[] | null = null
    while (child.exitCode === null && serverArgv === null) {
      serverArgv = processesWithArg(modelFile).find((found) => found.argv[0]?.endsWith('llama-server'))?.argv ?? null
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const run = (await child) as Result
    expect(run.exitCode, String(run.stderr)).toBe(0)
    expect(serverArgv, 'llama-server seen running').not.toBeNull()
    expect(serverArgv![serverArgv!.indexOf('-m') + 1]).toBe(modelFile)
    expect(readFileSync(sentinel, 'utf8')).toBe('still here\n')
    const [name] = readdirSync(results).filter((entry) => entry.endsWith('.json'))
    const file = await readResultFile(path.join(results, name!))
    expect(file.status).toBe('complete')
    expect(file.model.file).toBe(modelFile)
    expect(file.engine.args[file.engine.args.indexOf('-m') + 1]).toBe(modelFile)
  })
})

// An OpenAI-style key, and one in no known key format (Groq gsk_, Fireworks fw_, self-hosted gateways' own
// tokens...): redaction must not depend on recognising the shape.
const plantedKeys = [`sk-planted-${randomBytes(12).toString('hex')}`, `planted${randomBytes(12).toString('hex')}`]

describe.each(plantedKeys)('a planted API key (%s) reaches nothing capplan writes or prints', (KEY) => {
  let work: string
  let server: ReplayServer
  /** What the server does: 'ok' = serve (every 3rd completion fails with the key in its body); others fail. */
  let mode: 'ok' | 'models-500' | 'all-fail' = 'ok'
  let completionCount = 0
  const outputs: {what: string; text: string}[] = []

  const echoHeaders = {'x-echo-key': KEY, 'x-debug-authorization': `Bearer ${KEY}`}
  const recordedError = rawHttpRoute(llamaFixture('error_bad_json.txt'))
  /** llama-server's recorded 500 body, its message extended with the key (servers do echo credentials). */
  const errorWithKey = (status: number): ReplayRoute => {
    const body = JSON.parse(recordedError.body.toString('utf8')) as {error: {code: number; message: string; type: string}}
    body.error.code = status
    body.error.message = `${body.error.message} (request from api_key=${KEY}, authorization: Bearer ${KEY})`
    return {status, headers: {...recordedError.headers, ...echoHeaders}, body: JSON.stringify(body)}
  }
  const authorized = (request: RecordedRequest) => request.headers.authorization === `Bearer ${KEY}`

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'capplan-key-'))
    writeDataset(path.join(work, 'prompts.jsonl'))
    server = await startReplayServer()
    server.route('GET /v1/models', (request) => {
      if (!authorized(request)) return errorWithKey(401)
      if (mode === 'models-500') return errorWithKey(500)
      return {status: 200, headers: {'content-type': 'application/json', ...echoHeaders}, body: llamaFixture('v1_models.json')}
    })
    server.route('POST /v1/completions', (request) => {
      if (!authorized(request)) return errorWithKey(401)
      completionCount++
      if (mode === 'all-fail' || completionCount % 3 === 0) return errorWithKey(500)
      return {headers: echoHeaders, body: llamaFixture('v1_completions_stream.sse')}
    })
  })
  afterAll(async () => {
    await server.close()
    rmSync(work, {recursive: true, force: true})
  })

  const bench = async (what: string, endpoint: string, results: string, extra: string[], envKey: string = KEY) => {
    const run = await execa(
      'node',
      [
        bin,
        'bench',
        '--engine',
        'openai',
        '--endpoint',
        endpoint,
        '--api-key-env',
        'CAPPLAN_TEST_KEY',
        '--dataset',
        path.join(work, 'prompts.jsonl'),
        '--output-tokens',
        '32',
        '--concurrency',
        '1,2',
        '--requests',
        '3',
        '--results-dir',
        results,
        ...extra,
      ],
      // HOME is the work dir too: anything capplan writes under ~ is grepped with the rest.
      {cwd: work, env: {CAPPLAN_TEST_KEY: envKey, HOME: work, CAPPLAN_CACHE_DIR: path.join(work, 'cache')}, reject: false},
    )
    outputs.push({what: `${what} stdout`, text: run.stdout}, {what: `${what} stderr`, text: run.stderr})
    return run
  }
  const report = async (what: string, target: string, format: string) => {
    const run = await execa('node', [bin, 'report', target, '--format', format, '--slo', 'ttft=60s,tpot=5s'], {cwd: work, env: {HOME: work}, reject: false})
    outputs.push({what: `report ${format} of ${what} stdout`, text: run.stdout}, {what: `report ${format} of ${what} stderr`, text: run.stderr})
    return run
  }
  const leaks = () => [
    ...outputs.filter((output) => output.text.includes(KEY)).map((output) => output.what),
    ...allFiles(work)
      .filter((file) => !file.endsWith('prompts.jsonl'))
      .filter((file) => readFileSync(file).includes(KEY))
      .map((file) => path.relative(work, file)),
  ]

  it('the server really requires the key and echoes it (the test double works as intended)', async () => {
    const denied = await fetch(`${server.url}/v1/models`)
    expect(denied.status).toBe(401)
    expect(await denied.text()).toContain(KEY)
    const allowed = await fetch(`${server.url}/v1/models`, {headers: {authorization: `Bearer ${KEY}`}})
    expect(allowed.headers.get('x-echo-key')).toBe(KEY)
  })

  it('a run whose server echoes the key (error bodies, headers), with the key in the endpoint URL too: no hit anywhere', async () => {
    const port = new URL(server.url).port
    const results = path.join(work, 'results-ok')
    const firstRequest = server.requests.length
    // The key also as URL userinfo and as a query parameter, as people paste endpoints.
    const endpoint = `http://user:${KEY}@127.0.0.1:${port}/v1?api_key=${KEY}`
    const json = await bench('--json run', endpoint, results, ['--json'])
    // Every 3rd completion failed (HTTP 500 with the key in the body) -> failed requests, exit 9 (PARTIAL_RUN)
    // or 0 when no level lost enough to count as partial; either way the run completed and wrote its file.
    expect([0, 9], json.stderr).toContain(json.exitCode)
    const human = await bench('human run', endpoint, path.join(work, 'results-human'), [])
    expect([0, 9], human.stderr).toContain(human.exitCode)
    expect(human.stdout).toMatch(/TTFT/)
    // The URL's credentials are dropped, and capplan says so (without quoting them: leaks() below checks).
    expect(human.stderr.replace(/\s*\n\s*/g, ' ')).toMatch(
      /--endpoint holds credentials \(user:password@\) and a query string \(\?\.\.\.\): capplan ignores them .*--api-key-env NAME/,
    )
    const [name] = readdirSync(results).filter((entry) => entry.endsWith('.json'))
    const file = await readResultFile(path.join(results, name!))
    // The failed requests are recorded with the server's message, minus the key.
    const failed = file.levels.flatMap((level) => level.requests).filter((request) => request.error !== null)
    expect(failed.length).toBeGreaterThan(0)
    // The echo was there and was cut out: "... (request from api_key=***, authorization: ***)" (the one redaction list).
    expect(failed[0]!.error!.message).toMatch(/parse error.*api_key=\*\*\*, authorization: \*\*\*/)
    // The key went to the server, as a Bearer token only.
    const sent = server.requests.slice(firstRequest)
    expect(sent.length).toBeGreaterThan(6)
    // (GET /metrics of a loopback endpoint is scraped with the same Bearer key: the checks below cover it.)
    expect(sent.filter((request) => request.path.startsWith('/v1/') && request.headers.authorization !== `Bearer ${KEY}`)).toEqual([])
    expect(sent.filter((request) => request.headers.authorization !== undefined && request.headers.authorization !== `Bearer ${KEY}`)).toEqual([])
    expect(sent.filter((request) => request.path.startsWith('/v1/')).length).toBeGreaterThan(6)
    expect(sent.filter((request) => request.body.includes(KEY))).toEqual([])
    for (const format of ['table', 'md', 'csv', 'json', 'html']) await report('results-ok', results, format)
    expect(leaks()).toEqual([])
  })

  it.skipIf(serverBin === null)('llama-server given the key (-- --api-key KEY): not in the result file, the server log beside it or any output', async () => {
    writeTinyProfile(path.join(work, 'profiles'))
    const results = path.join(work, 'results-llamacpp')
    const run = await execa(
      'node',
      [
        bin,
        'bench',
        '--engine',
        'llamacpp',
        '--synthetic',
        '--model',
        'tiny-qwen2',
        '--server-bin',
        serverBin!,
        '--threads',
        '1',
        '--concurrency',
        '1',
        '--requests',
        '2',
        '--input-tokens',
        '16',
        '--output-tokens',
        '8',
        '--results-dir',
        results,
        '--',
        '--api-key',
        KEY,
      ],
      {cwd: work, env: {HOME: work, CAPPLAN_CACHE_DIR: path.join(work, 'cache'), CAPPLAN_PROFILES: path.join(work, 'profiles')}, reject: false},
    )
    outputs.push({what: 'llamacpp run stdout', text: run.stdout}, {what: 'llamacpp run stderr', text: run.stderr})
    // capplan's client sends the key it gave llama-server (Authorization: Bearer) on every request, /props and
    // /metrics: without it every request got 401 and the run exited 9.
    expect(run.exitCode, run.stderr).toBe(0)
    const [name] = readdirSync(results).filter((entry) => entry.endsWith('.json'))
    const file = await readResultFile(path.join(results, name!))
    expect(file.status).toBe('complete')
    expect(file.levels.map((level) => [level.status, level.summary.requests])).toEqual([['complete', {completed: 2, failed: 0}]])
    for (const request of file.levels[0]!.requests) expect(request.outputTokens).toBe(8)
    // /metrics (401 without the key) was scraped before and after the level: llama-server's own token counters.
    expect(file.levels[0]!.serverMetrics?.source).toBe('llamacpp')
    expect(file.engine.args).toEqual(expect.arrayContaining(['--api-key', '***']))
    const log = readdirSync(results).find((entry) => entry.endsWith('.server.log'))
    expect(log, 'the server log is kept beside the result file').toBeDefined()
    // The log's header line records the command with the value redacted; the key appears nowhere.
    expect(readFileSync(path.join(results, log!), 'utf8')).toContain('--api-key ***')
    expect(leaks()).toEqual([])
  })

  it.skipIf(serverBin === null)('llama-server given a key file (-- --api-key-file FILE): capplan reads it and sends the key; the key reaches nothing else', async () => {
    // Outside the work dir (everything in it is grepped for the key): the file is the one place the key may be.
    writeTinyProfile(path.join(work, 'profiles'))
    const keyDir = mkdtempSync(path.join(os.tmpdir(), 'capplan-keyfile-'))
    const keyFile = path.join(keyDir, 'keys.txt')
    writeFileSync(keyFile, `# capplan test key\n${KEY}\n`)
    try {
      const results = path.join(work, 'results-llamacpp-key-file')
      const run = await execa(
        'node',
        [
          bin,
          'bench',
          '--engine',
          'llamacpp',
          '--synthetic',
          '--model',
          'tiny-qwen2',
          '--server-bin',
          serverBin!,
          '--threads',
          '1',
          '--concurrency',
          '1',
          '--requests',
          '2',
          '--input-tokens',
          '16',
          '--output-tokens',
          '8',
          '--results-dir',
          results,
          '--',
          '--api-key-file',
          keyFile,
        ],
        {cwd: work, env: {HOME: work, CAPPLAN_CACHE_DIR: path.join(work, 'cache'), CAPPLAN_PROFILES: path.join(work, 'profiles')}, reject: false},
      )
      outputs.push({what: 'llamacpp key-file run stdout', text: run.stdout}, {what: 'llamacpp key-file run stderr', text: run.stderr})
      expect(run.exitCode, run.stderr).toBe(0)
      const [name] = readdirSync(results).filter((entry) => entry.endsWith('.json'))
      const file = await readResultFile(path.join(results, name!))
      expect(file.levels.map((level) => [level.status, level.summary.requests])).toEqual([['complete', {completed: 2, failed: 0}]])
      expect(file.levels[0]!.serverMetrics?.source).toBe('llamacpp')
      // The path is recorded (it is not the secret); the key is not.
      expect(file.engine.args).toEqual(expect.arrayContaining(['--api-key-file', keyFile]))
      expect(leaks()).toEqual([])
    } finally {
      rmSync(keyDir, {recursive: true, force: true})
    }
  })

  it('failing runs (models 500 with the key, every request failing, a wrong key, an unreachable or invalid endpoint): no hit in any message', async () => {
    mode = 'models-500'
    const models500 = await bench('models-500 run', server.url, path.join(work, 'results-models-500'), [])
    expect(models500.exitCode).toBe(8)
    expect(models500.stderr).toMatch(/HTTP 500/)
    expect(models500.stderr).toMatch(/api_key=\*\*\*/)
    mode = 'all-fail'
    const allFail = await bench('all-fail run', server.url, path.join(work, 'results-all-fail'), ['--json'])
    expect(allFail.exitCode).not.toBe(0)
    mode = 'ok'
    // A wrong key: the server answers 401 and echoes the key it was given (the wrong one) and the right one.
    const wrongKey = await bench('wrong-key run', server.url, path.join(work, 'results-wrong-key'), [], `sk-wrong-${randomBytes(6).toString('hex')}`)
    expect(wrongKey.exitCode).toBe(8)
    expect(wrongKey.stderr).toMatch(/rejected the API key from \$CAPPLAN_TEST_KEY/)
    const unreachable = await bench('unreachable run', `http://user:${KEY}@127.0.0.1:1/?api_key=${KEY}`, path.join(work, 'results-unreachable'), [])
    expect(unreachable.exitCode).toBe(8)
    expect(unreachable.stderr).toMatch(/Cannot reach/)
    // Not a URL at all: the message quotes what was given, minus the credentials.
    const notUrl = await bench('invalid-endpoint run', `http://u:${KEY}@[bad/?api_key=${KEY}`, path.join(work, 'results-not-url'), [])
    expect(notUrl.exitCode).toBe(3)
    expect(notUrl.stderr).toMatch(/is not a/)
    const notUrlJson = await bench('invalid-endpoint --json run', `http://u:${KEY}@[bad/?api_key=${KEY}`, path.join(work, 'results-not-url'), ['--json'])
    expect(notUrlJson.exitCode).toBe(3)
    for (const dir of ['results-all-fail']) {
      if (existsSync(path.join(work, dir)) && statSync(path.join(work, dir)).isDirectory()) await report(dir, path.join(work, dir), 'json')
    }
    expect(leaks()).toEqual([])
  })
})
