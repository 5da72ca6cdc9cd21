import { Ajv, type Options } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifyInstance } from 'fastify'

// ajv-formats is CommonJS; under NodeNext its callable sits on .default
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default

const base: Options = {
  // Fastify's default silently drops unknown properties; we reject them instead.
  removeAdditional: false,
  useDefaults: true,
  allErrors: false,
  strict: false,
}

function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({ ...base, ...options })
  addFormats(ajv)
  return ajv
}

/**
 * Bodies are JSON and must carry the right types ("19.99" is not a price);
 * query strings and path params are text and are coerced to the declared types.
 */
export function registerValidation(app: FastifyInstance): void {
  const strict = makeAjv({ coerceTypes: false })
  const coercing = makeAjv({ coerceTypes: 'array' })
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema),
  )
}

interface AjvError {
  instancePath: string
  message?: string
  params: Record<string, unknown>
}

/** "body.events/0 must be string", "body has an unknown property 'colour'": says which field and why. */
export function formatSchemaErrors(errors: AjvError[], dataVar: string): Error {
  const messages = errors.map((e) => {
    const where = `${dataVar}${e.instancePath.replace(/\//g, '.')}`
    if (e.params.additionalProperty !== undefined) return `${where} has an unknown property '${String(e.params.additionalProperty)}'`
    return `${where} ${e.message ?? 'is invalid'}`
  })
  return new Error(messages.join('; '))
}
