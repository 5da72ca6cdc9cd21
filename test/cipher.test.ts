import t from 'tap'
import { randomBytes } from 'node:crypto'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createCipher, loadSecretsKey, SecretDecryptionError, SecretsKeyError } from '../src/secrets/cipher.ts'

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'

t.test('roundtrip', async (t) => {
  const cipher = createCipher(randomBytes(32))
  for (const plain of [SECRET, '', 'ünïcödé ✓ 🔑', 'x'.repeat(10_000)]) {
    t.equal(cipher.decrypt(cipher.encrypt(plain)), plain, `${plain.length} chars`)
  }
})

t.test('stored format hides the plaintext and never repeats', async (t) => {
  const cipher = createCipher(randomBytes(32))
  const stored = cipher.encrypt(SECRET)
  t.match(stored, /^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/)
  t.notMatch(stored, SECRET)
  t.notMatch(stored, 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')
  t.notMatch(Buffer.from(stored.split(':')[3] ?? '', 'base64').toString('latin1'), 'MfKQ9r8G', 'not even in the decoded ciphertext')
  t.not(cipher.encrypt(SECRET), stored, 'fresh IV per encryption')
})

t.test('wrong key throws, never returns garbage', async (t) => {
  const stored = createCipher(randomBytes(32)).encrypt(SECRET)
  t.throws(() => createCipher(randomBytes(32)).decrypt(stored), {
    name: 'SecretDecryptionError',
    message: /secrets cannot be decrypted with this SECRETS_KEY/,
  })
  t.throws(() => createCipher(randomBytes(32)).decrypt(stored), SecretDecryptionError)
})

t.test('tampering is detected', async (t) => {
  const cipher = createCipher(randomBytes(32))
  const stored = cipher.encrypt(SECRET)
  const [version, iv, tag, ciphertext] = stored.split(':') as [string, string, string, string]
  const flip = (b64: string) => {
    const bytes = Buffer.from(b64, 'base64')
    bytes[0] = (bytes[0] ?? 0) ^ 1
    return bytes.toString('base64')
  }
  const tampered = {
    ciphertext: [version, iv, tag, flip(ciphertext)].join(':'),
    tag: [version, iv, flip(tag), ciphertext].join(':'),
    iv: [version, flip(iv), tag, ciphertext].join(':'),
    truncated: [version, iv, tag, ciphertext.slice(0, -4)].join(':'),
    'unknown version': ['v2', iv, tag, ciphertext].join(':'),
    'missing part': [version, iv, ciphertext].join(':'),
    plaintext: SECRET,
  }
  for (const [name, value] of Object.entries(tampered)) {
    t.throws(() => cipher.decrypt(value), SecretDecryptionError, name)
  }
})

t.test('createCipher requires a 32-byte key', async (t) => {
  t.throws(() => createCipher(randomBytes(16)), SecretsKeyError)
})

t.test('loadSecretsKey with SECRETS_KEY', async (t) => {
  const dataDir = t.testdir()
  const key = randomBytes(32)
  t.same(await loadSecretsKey({ secretsKey: key.toString('base64'), dataDir, production: true }), key, 'base64')
  t.same(await loadSecretsKey({ secretsKey: key.toString('hex'), dataDir, production: true }), key, 'hex')
  t.same(await loadSecretsKey({ secretsKey: ` ${key.toString('base64')}\n`, dataDir, production: true }), key, 'surrounding whitespace')

  const bad = {
    'too short (base64)': randomBytes(16).toString('base64'),
    'too long (base64)': randomBytes(48).toString('base64'),
    'hex of 31 bytes': randomBytes(31).toString('hex'),
    'passphrase': 'correct horse battery staple',
    'base64 with junk': key.toString('base64').slice(0, -2) + '!=',
  }
  for (const [name, secretsKey] of Object.entries(bad)) {
    await t.rejects(loadSecretsKey({ secretsKey, dataDir, production: false }), { name: 'SecretsKeyError', message: /SECRETS_KEY/ }, name)
  }
  await t.rejects(stat(join(dataDir, 'secrets.key')), { code: 'ENOENT' }, 'no key file written when SECRETS_KEY is set')
})

t.test('loadSecretsKey refuses production without SECRETS_KEY', async (t) => {
  const dataDir = t.testdir()
  for (const secretsKey of [undefined, '', '  ']) {
    await t.rejects(loadSecretsKey({ secretsKey, dataDir, production: true }), {
      name: 'SecretsKeyError',
      message: /SECRETS_KEY is required when NODE_ENV=production/,
    })
  }
  await t.rejects(stat(join(dataDir, 'secrets.key')), { code: 'ENOENT' }, 'no key file generated')
})

t.test('loadSecretsKey in development generates the key file once', async (t) => {
  const dataDir = join(t.testdir(), 'nested', 'data')
  const first = await loadSecretsKey({ dataDir, production: false })
  t.equal(first.length, 32)
  const file = join(dataDir, 'secrets.key')
  t.equal((await stat(file)).mode & 0o777, 0o600, 'owner-only permissions')
  t.equal((await readFile(file, 'utf8')).trim(), first.toString('base64'))

  const second = await loadSecretsKey({ dataDir, production: false })
  t.same(second, first, 'same key on the next start')
  const stored = createCipher(first).encrypt(SECRET)
  t.equal(createCipher(second).decrypt(stored), SECRET, 'secrets survive a restart')

  const concurrent = await Promise.all([1, 2, 3].map(() => loadSecretsKey({ dataDir: join(dataDir, 'race'), production: false })))
  t.same(concurrent[1], concurrent[0], 'concurrent first starts agree')
  t.same(concurrent[2], concurrent[0])
  t.strictSame(await readdir(join(dataDir, 'race')), ['secrets.key'], 'no temp files left behind')
})

t.test('loadSecretsKey in development refuses a corrupt key file', async (t) => {
  const dataDir = t.testdir({ 'secrets.key': 'not a key\n' })
  await t.rejects(loadSecretsKey({ dataDir, production: false }), { name: 'SecretsKeyError', message: /secrets\.key/ })
  t.equal(await readFile(join(dataDir, 'secrets.key'), 'utf8'), 'not a key\n', 'left untouched')
  await writeFile(join(dataDir, 'secrets.key'), randomBytes(32).toString('hex'))
  t.equal((await loadSecretsKey({ dataDir, production: false })).length, 32, 'hex key file accepted')
})

t.test('a value bound to a context (AES-GCM associated data) decrypts with that context only', async (t) => {
  const cipher = createCipher(randomBytes(32))
  const bound = cipher.encrypt(SECRET, 'plugin_secrets:a')
  t.match(bound, /^v2:/)
  t.equal(cipher.decrypt(bound, 'plugin_secrets:a'), SECRET)
  t.throws(() => cipher.decrypt(bound, 'plugin_secrets:b'), { name: 'SecretDecryptionError', message: /moved from another plugin/ }, 'another context')
  t.throws(() => cipher.decrypt(bound), SecretDecryptionError, 'no context')
  t.throws(() => cipher.decrypt(bound.replace(/^v2:/, 'v1:'), 'plugin_secrets:a'), SecretDecryptionError, 'relabelled as unbound')
  const legacy = cipher.encrypt(SECRET)
  t.match(legacy, /^v1:/)
  t.equal(cipher.decrypt(legacy, 'plugin_secrets:a'), SECRET, 'a value stored before binding still reads')
})
