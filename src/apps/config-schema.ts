import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'

// ajv-formats is CommonJS; under NodeNext its callable sits on .default
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

/**
 * An app's config_schema: JSON Schema (draft 2020-12), restricted to what a store's
 * install form can show and what we can validate and keep secret: one object of
 * flat properties. Anything else is refused at publish with the JSON pointer of the
 * first problem, so a store never meets a schema it cannot fill in.
 */
export const MAX_CONFIG_PROPERTIES = 50

const ROOT_KEYWORDS = new Set(['$schema', 'type', 'title', 'description', 'properties', 'required', 'additionalProperties'])
const COMMON = ['type', 'title', 'description', 'default', 'enum', 'writeOnly']
const PROPERTY_KEYWORDS: Record<string, Set<string>> = {
  string: new Set([...COMMON, 'minLength', 'maxLength', 'pattern', 'format']),
  number: new Set([...COMMON, 'minimum', 'maximum']),
  integer: new Set([...COMMON, 'minimum', 'maximum']),
  boolean: new Set(COMMON),
}
const FORMATS = new Set(['uri', 'email'])
const DRAFT = 'https://json-schema.org/draft/2020-12/schema'

export class ConfigSchemaProblem extends Error {
  constructor(
    readonly pointer: string,
    message: string,
  ) {
    super(message)
  }
}

/** RFC 6901: `~` and `/` escaped in a pointer's segments. */
export const pointer = (...segments: (string | number)[]): string =>
  segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isCount = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 1_000_000

function fail(at: string, message: string): never {
  throw new ConfigSchemaProblem(at, message)
}

export function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true, useDefaults: true, coerceTypes: false })
  addFormats(ajv, ['uri', 'email'])
  return ajv
}

function matchesType(type: string, value: unknown): boolean {
  if (type === 'string') return typeof value === 'string'
  if (type === 'boolean') return typeof value === 'boolean'
  if (type === 'integer') return Number.isInteger(value)
  return typeof value === 'number' && Number.isFinite(value)
}

function checkProperty(name: string, schema: unknown): void {
  const at = pointer('properties', name)
  if (!isObject(schema)) fail(at, 'must be an object')
  const type = schema.type
  if (typeof type !== 'string' || !(type in PROPERTY_KEYWORDS)) fail(pointer('properties', name, 'type'), 'must be one of string, number, integer, boolean')
  for (const key of Object.keys(schema)) {
    if (!PROPERTY_KEYWORDS[type]!.has(key)) fail(pointer('properties', name, key), `'${key}' is not supported for a ${type} property`)
  }
  for (const key of ['title', 'description'] as const) {
    if (key in schema && (typeof schema[key] !== 'string' || (schema[key] as string).length > 500)) fail(pointer('properties', name, key), 'must be a string of at most 500 characters')
  }
  if ('writeOnly' in schema && typeof schema.writeOnly !== 'boolean') fail(pointer('properties', name, 'writeOnly'), 'must be a boolean')
  for (const key of ['minLength', 'maxLength'] as const) if (key in schema && !isCount(schema[key])) fail(pointer('properties', name, key), 'must be a non-negative integer')
  for (const key of ['minimum', 'maximum'] as const) {
    if (key in schema && !(typeof schema[key] === 'number' && Number.isFinite(schema[key]))) fail(pointer('properties', name, key), 'must be a number')
  }
  if ('minimum' in schema && 'maximum' in schema && (schema.minimum as number) > (schema.maximum as number)) fail(pointer('properties', name, 'minimum'), 'must not exceed maximum')
  if ('minLength' in schema && 'maxLength' in schema && (schema.minLength as number) > (schema.maxLength as number)) fail(pointer('properties', name, 'minLength'), 'must not exceed maxLength')
  if ('format' in schema && !FORMATS.has(schema.format as string)) fail(pointer('properties', name, 'format'), 'must be uri or email')
  if ('pattern' in schema) {
    if (typeof schema.pattern !== 'string' || schema.pattern.length > 500) fail(pointer('properties', name, 'pattern'), 'must be a string of at most 500 characters')
    try {
      new RegExp(schema.pattern, 'u')
    } catch {
      fail(pointer('properties', name, 'pattern'), 'is not a valid regular expression')
    }
  }
  if ('enum' in schema) {
    const values = schema.enum
    if (!Array.isArray(values) || values.length === 0 || values.length > 100) fail(pointer('properties', name, 'enum'), 'must be an array of 1 to 100 values')
    values.forEach((v, i) => {
      if (!matchesType(type, v)) fail(pointer('properties', name, 'enum', i), `must be a ${type}`)
    })
  }
  if ('default' in schema) {
    const ajv = newAjv()
    const { default: value, ...rest } = schema
    const check = ajv.compile(rest)
    if (!check(value)) fail(pointer('properties', name, 'default'), `does not satisfy the property's own schema (${check.errors?.[0]?.message ?? 'invalid'})`)
  }
}

/** Throws ConfigSchemaProblem at the first thing outside the supported subset. */
export function checkConfigSchema(schema: unknown): void {
  if (!isObject(schema)) fail('', 'config_schema must be an object schema')
  for (const key of Object.keys(schema)) if (!ROOT_KEYWORDS.has(key)) fail(pointer(key), `'${key}' is not supported at the top of config_schema`)
  if ('$schema' in schema && schema.$schema !== DRAFT) fail(pointer('$schema'), `must be ${DRAFT}`)
  if (schema.type !== 'object') fail(pointer('type'), "must be 'object'")
  if ('additionalProperties' in schema && typeof schema.additionalProperties !== 'boolean') fail(pointer('additionalProperties'), 'must be a boolean')
  const properties = schema.properties ?? {}
  if (!isObject(properties)) fail(pointer('properties'), 'must be an object')
  const names = Object.keys(properties)
  if (names.length > MAX_CONFIG_PROPERTIES) fail(pointer('properties'), `at most ${MAX_CONFIG_PROPERTIES} properties`)
  for (const name of names) {
    if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(name)) fail(pointer('properties', name), 'a property name is a letter, then up to 63 letters, digits or _')
    checkProperty(name, properties[name])
  }
  if ('required' in schema) {
    const required = schema.required
    if (!Array.isArray(required)) fail(pointer('required'), 'must be an array of property names')
    required.forEach((r, i) => {
      if (typeof r !== 'string' || !names.includes(r)) fail(pointer('required', i), 'must name a property')
    })
  }
  try {
    newAjv().compile(schema)
  } catch (error) {
    fail('', `is not a valid JSON Schema: ${(error as Error).message}`)
  }
}

/** The names of the writeOnly (secret) properties. */
export function secretProperties(schema: Record<string, unknown>): string[] {
  const properties = (schema.properties ?? {}) as Record<string, { writeOnly?: boolean }>
  return Object.keys(properties).filter((name) => properties[name]?.writeOnly === true)
}
