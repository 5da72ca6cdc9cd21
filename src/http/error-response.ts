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
