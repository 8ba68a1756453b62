import {describe, expect, it} from 'vitest'

import {EngineError, invalidInput} from '../../../src/lib/errors.js'
import {quoteArgv, redactArgv, redactSecrets} from '../../../src/lib/redact.js'

const redactCommand = (argv: string[]) => quoteArgv(redactArgv(argv))

/**
 * Keys of no known shape (not sk-/hf_) are redacted by WHERE they stand: a URL's userinfo or a credential
 * query parameter (issue 7 §4: an endpoint pasted as http://user:KEY@host/?api_key=KEY).
 */
describe('redactSecrets: credentials inside URLs', () => {
  const key = 'planted0123456789abcdef'

  it('hides user:password@ and a bare key@ in any scheme, keeps host, port and path', () => {
    expect(redactSecrets(`http://user:${key}@127.0.0.1:8000/v1`)).toBe('http://***@127.0.0.1:8000/v1')
    expect(redactSecrets(`https://${key}@api.example.com`)).toBe('https://***@api.example.com')
    expect(redactSecrets(`see redis://:${key}@cache:6379 and HTTP://a:b@x`)).toBe('see redis://***@cache:6379 and HTTP://***@x')
  })

  it('hides credential query parameters, keeps the others', () => {
    expect(redactSecrets(`http://h/v1?api_key=${key}&model=m&token=${key}#frag`)).toBe('http://h/v1?api_key=***&model=m&token=***#frag')
    expect(redactSecrets(`http://h/?apikey=${key}&sig=${key}&access_token=${key}&x=1`)).toBe('http://h/?apikey=***&sig=***&access_token=***&x=1')
    // "monkey=" is not "key=": the parameter name must start right after ? or &.
    expect(redactSecrets('http://h/?monkey=banana&keyboard=1')).toBe('http://h/?monkey=banana&keyboard=1')
  })

  it('leaves URLs without credentials and e-mail-like text alone', () => {
    expect(redactSecrets('http://127.0.0.1:8000/v1?model=qwen')).toBe('http://127.0.0.1:8000/v1?model=qwen')
    expect(redactSecrets('contact ops@example.com')).toBe('contact ops@example.com')
  })
})

describe('redactCommand: an endpoint with the key in it', () => {
  it('records --endpoint URL and --endpoint=URL without the key, quoted for the shell', () => {
    const key = 'planted0123456789abcdef'
    expect(redactCommand(['capplan', 'bench', '--engine', 'openai', '--endpoint', `http://user:${key}@127.0.0.1:8000/v1?api_key=${key}`])).toBe(
      "capplan bench --engine openai --endpoint 'http://***@127.0.0.1:8000/v1?api_key=***'",
    )
    expect(redactCommand(['capplan', 'bench', `--endpoint=https://${key}@h/`])).toBe("capplan bench '--endpoint=https://***@h/'")
  })
})

describe('redactSecrets: header values on one line of many', () => {
  it('hides an Authorization value up to the end of its own line only', () => {
    expect(redactSecrets('GET /v1/models\nAuthorization: Token planted42\nx-next: kept')).toBe('GET /v1/models\nAuthorization: ***\nx-next: kept')
  })
})

describe('every CapplanError is redacted', () => {
  const key = 'planted0123456789abcdef'

  it('message and suggestion of any kind of error', () => {
    const error = invalidInput(`--endpoint http://u:${key}@[bad/?api_key=${key} is not a URL.`, `Try http://u:${key}@127.0.0.1:8000`)
    expect(error.message).toBe('--endpoint http://***@[bad/?api_key=*** is not a URL.')
    expect(error.suggestion).toBe('Try http://***@127.0.0.1:8000')
    expect(JSON.stringify(error.toJSON())).not.toContain(key)
  })

  it('an engine error: message, command and the log lines it quotes', () => {
    const error = new EngineError('llama-server exited (code 1).', 'See its log.', `llama-server --api-key-url http://x:${key}@h`, [`request Authorization: Bearer ${key}`])
    expect(error.command).toBe('llama-server --api-key-url http://***@h')
    expect(error.logTail).toEqual(['request Authorization: ***'])
    expect(error.message).not.toContain(key)
  })
})

describe('quoteArgv(redactArgv(argv)): the recorded command', () => {
  it('hides secret flag values, bearer tokens and keys; keeps ordinary flags', () => {
    expect(
      redactCommand([
        'capplan',
        'bench',
        '--engine',
        'openai',
        '--api-key',
        'sk-live-1234567890',
        '--token=hf_abcdefghijkl',
        '--api-key-env',
        'OPENAI_API_KEY',
        '--output-tokens',
        '128',
        '-H',
        'Authorization: Bearer abc.def',
        'https://x/?key=sk-proj-ABCDEFGHIJ',
      ]),
    ).toBe(
      // "***" is quoted too: unquoted, a shell would glob it
      "capplan bench --engine openai --api-key '***' '--token=***' --api-key-env OPENAI_API_KEY --output-tokens 128 -H 'Authorization: ***' 'https://x/?key=***'",
    )
  })

  it('quotes arguments a shell would split, so the command can be re-run', () => {
    expect(redactCommand(['capplan', 'bench', '--model', 'x; rm -rf ~'])).toBe("capplan bench --model 'x; rm -rf ~'")
  })
})

describe('redactArgv', () => {
  it('hides the values of key and token flags, in both spellings', () => {
    expect(redactArgv(['-m', 'x.gguf', '--api-key', 'sk-123', '--hf-token=hf_abc', '-hft', 'hf_def', '--port', '80'])).toEqual([
      '-m',
      'x.gguf',
      '--api-key',
      '***',
      '--hf-token=***',
      '-hft',
      '***',
      '--port',
      '80',
    ])
  })
})

describe('redactArgv: an --api-key value that starts with "-" is still a value', () => {
  it('hides it', () => {
    expect(redactArgv(['--api-key', '-dash-key', '--port', '80'])).toEqual(['--api-key', '***', '--port', '80'])
  })
})
