import type { ValidateFunction } from 'ajv'
import { AppError } from '../errors.ts'
import { MAX_JSON_OBJECT_BYTES } from '../plugins/plugin.schemas.ts'
import { newAjv, pointer, secretProperties } from '../apps/config-schema.ts'
import { hasNul } from '../apps/manifest.ts'
import type { SecretCipher } from '../secrets/cipher.ts'

export interface ConfigProblem {
  pointer: string
  message: string
}

/** Compiled config schemas by their JSON text; bounded, since every app version has one. */
const compiled = new Map<string, ValidateFunction>()
const MAX_COMPILED = 500

function validator(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema)
  let validate = compiled.get(key)
  if (!validate) {
    validate = newAjv().compile(schema)
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value as string)
    compiled.set(key, validate)
  }
  return validate
}

/**
 * Validates a config against the app version's schema and applies its defaults.
 * Returns the config with defaults, or every problem with its JSON pointer.
 */
export function checkConfig(schema: Record<string, unknown>, config: Record<string, unknown>): { config: Record<string, unknown>; problems: ConfigProblem[] } {
  const copy = structuredClone(config)
  const validate = validator(schema)
  if (validate(copy)) return { config: copy, problems: [] }
  const problems = (validate.errors ?? []).map((e) => {
    const params = e.params as Record<string, unknown>
    if (e.keyword === 'required') return { pointer: `${e.instancePath}${pointer(String(params.missingProperty))}`, message: 'is required' }
    if (e.keyword === 'additionalProperties') return { pointer: `${e.instancePath}${pointer(String(params.additionalProperty))}`, message: 'is not a property of this app’s config' }
    return { pointer: e.instancePath || '/', message: e.message ?? 'is invalid' }
  })
  return { config: copy, problems }
}

/**
 * The problems as every validation error names fields (`details`, src/http/validation.ts):
 * `/api_key` is the body's `config.api_key`, so a form shows each beside its field.
 */
export function configDetails(problems: ConfigProblem[]) {
  return problems.map((p) => ({
    field: p.pointer === '/' ? 'config' : `config.${p.pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).join('.')}`,
    in: 'body' as const,
    problem: p.message,
  }))
}

/** checkConfig, refusing with 400 INVALID_CONFIG and every problem listed. */
export function validConfig(schema: Record<string, unknown>, config: Record<string, unknown>): Record<string, unknown> {
  if (Buffer.byteLength(JSON.stringify(config)) > MAX_JSON_OBJECT_BYTES) {
    throw new AppError(400, 'TOO_LARGE', `config must be at most ${MAX_JSON_OBJECT_BYTES / 1024} KiB of JSON`)
  }
  if (hasNul(config)) throw new AppError(400, 'INVALID_INPUT', 'config must not contain NUL characters')
  const { config: checked, problems } = checkConfig(schema, config)
  if (problems.length > 0) {
    throw new AppError(400, 'INVALID_CONFIG', `config does not match the app’s config_schema: ${problems.map((p) => `${p.pointer} ${p.message}`).join('; ')}`, { problems, details: configDetails(problems) })
  }
  return checked
}

export interface StoredConfig {
  /** what GETs show: everything but writeOnly values */
  config: Record<string, unknown>
  /** writeOnly values, encrypted under SECRETS_KEY; null if none */
  secretConfig: string | null
}

/** Splits a valid config into what may be shown and what is kept encrypted. */
export function storeConfig(cipher: SecretCipher, schema: Record<string, unknown>, config: Record<string, unknown>): StoredConfig {
  const secretNames = new Set(secretProperties(schema))
  // fromEntries defines own properties: a key named __proto__ stays a key
  const entries = Object.entries(config)
  const shown = Object.fromEntries(entries.filter(([key]) => !secretNames.has(key)))
  const secret = Object.fromEntries(entries.filter(([key]) => secretNames.has(key)))
  return { config: shown, secretConfig: Object.keys(secret).length > 0 ? cipher.encrypt(JSON.stringify(secret)) : null }
}

/** The writeOnly values of a stored config, decrypted. */
export function secretValues(cipher: SecretCipher, secretConfig: string | null): Record<string, unknown> {
  return secretConfig ? (JSON.parse(cipher.decrypt(secretConfig)) as Record<string, unknown>) : {}
}
