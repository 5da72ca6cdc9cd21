import { Type } from '@sinclair/typebox'
import { STATUS_TEXT } from '../errors.ts'

/**
 * The body of every error response (src/errors.ts makes them): Fastify's shape
 * plus the stable `code` clients branch on. Some errors add fields (an order's
 * short items, for example), hence additionalProperties.
 */
export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer({ minimum: 400, maximum: 599 }),
    error: Type.String({ description: 'The HTTP status text' }),
    message: Type.String({ description: 'What is wrong, for a person' }),
    code: Type.String({ description: 'What is wrong, for a program: stable across releases' }),
    details: Type.Optional(
      Type.Array(
        Type.Object(
          {
            field: Type.String({ description: 'The field, as `name`, `items[0].quantity`; or `body`, `query`, `path` for the whole part' }),
            in: Type.Optional(Type.Union([Type.Literal('body'), Type.Literal('query'), Type.Literal('path'), Type.Literal('header')])),
            problem: Type.String({ description: 'What is wrong with it, in words, with what was given' }),
            allowed: Type.Optional(Type.Array(Type.Unknown(), { description: 'The values (or field names) it may take, where they are a closed set' })),
          },
          { additionalProperties: true },
        ),
        { description: 'Each field that is wrong (validation errors)' },
      ),
    ),
  },
  { additionalProperties: true },
)

export interface ErrorBody {
  statusCode: number
  error: string
  message: string
  code: string
}

export function errorBody(statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, error: STATUS_TEXT[statusCode] ?? 'Error', message, code }
}
