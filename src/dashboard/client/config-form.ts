import { h } from './dom.ts'
import { fieldRow } from './form.ts'

/**
 * The fields of a form generated from an app's `config_schema` (the subset
 * src/apps/config-schema.ts accepts: one object of string, number, integer and
 * boolean properties). Each property becomes the control that fits it: a select
 * for `enum`, a checkbox for a boolean, a number field, a password field for a
 * `writeOnly` secret, a text field otherwise; defaults (or the current values)
 * filled in. Field names are the API's (`config.<property>`), so its `details`
 * land beside them.
 */

interface Property {
  type: 'string' | 'number' | 'integer' | 'boolean'
  title?: string
  description?: string
  default?: unknown
  enum?: unknown[]
  writeOnly?: boolean
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
  format?: string
}

export interface ConfigFields {
  element: HTMLElement
  /** The config the fields say: empty fields left out (so the API names a missing required one, and PATCH keeps an unchanged secret). */
  read(): Record<string, unknown>
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** `api_key` → `Api key`: a property without a title is labelled by its name, said in words. */
const humanize = (name: string) => name.replace(/_+/g, ' ').trim().replace(/^./, (c) => c.toUpperCase())

/**
 * The schema is stored as jsonb, which keeps no key order (shorter keys first), so
 * the developer's order of properties is lost: required fields come first, in the
 * order of `required` (an array keeps its order), then the others by name.
 */
function fieldOrder(properties: Record<string, unknown>, required: string[]): string[] {
  const rest = Object.keys(properties)
    .filter((name) => !required.includes(name))
    .sort()
  return [...required.filter((name) => name in properties), ...rest]
}

/** `values`: the current config (editing); `secretsSet`: the writeOnly properties that have a stored value. */
export function configFields(schema: Record<string, unknown>, values: Record<string, unknown> = {}, secretsSet: string[] = []): ConfigFields {
  const properties = isObject(schema.properties) ? (schema.properties as Record<string, Property>) : {}
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : [])
  const editing = Object.keys(values).length > 0 || secretsSet.length > 0
  const readers: [string, () => unknown][] = []
  const rows: HTMLElement[] = []

  for (const name of fieldOrder(properties, [...required])) {
    const property = properties[name]
    if (!isObject(property)) continue
    const value = name in values ? values[name] : property.default
    const label = property.title ?? humanize(name)
    const secretKept = property.writeOnly === true && secretsSet.includes(name)
    let control: HTMLInputElement | HTMLSelectElement
    let read: () => unknown

    if (Array.isArray(property.enum)) {
      const options = property.enum
      const select = h('select', { name })
      // no choice offered unless one is needed: an optional property may stay unset
      if (!required.has(name) || value === undefined) select.append(h('option', { value: '' }, required.has(name) ? 'Choose…' : '—'))
      options.forEach((option, i) => select.append(h('option', { value: String(i), selected: option === value }, String(option))))
      control = select
      read = () => (select.value === '' ? undefined : options[Number(select.value)])
    } else if (property.type === 'boolean') {
      const box = h('input', { type: 'checkbox', name, checked: value === true })
      control = box
      read = () => box.checked
    } else if (property.type === 'number' || property.type === 'integer') {
      const input = h('input', {
        type: 'number',
        name,
        value: typeof value === 'number' ? value : undefined,
        min: property.minimum,
        max: property.maximum,
        step: property.type === 'integer' ? 1 : 'any',
      })
      control = input
      // a number field the browser cannot read says so as text, for the API to refuse by name
      read = () => (input.value === '' ? (input.validity.badInput ? 'not a number' : undefined) : Number(input.value))
    } else {
      const input = h('input', {
        type: property.writeOnly ? 'password' : 'text',
        name,
        value: property.writeOnly ? undefined : typeof value === 'string' ? value : undefined,
        maxlength: property.maxLength,
        autocomplete: property.writeOnly ? 'new-password' : 'off',
        spellcheck: 'false',
        placeholder: secretKept ? 'set (leave empty to keep it)' : property.format === 'uri' ? 'https://…' : property.format === 'email' ? 'name@example.com' : undefined,
      })
      control = input
      read = () => (input.value === '' ? undefined : input.value)
    }
    readers.push([name, read])
    const help = [property.description?.replace(/([^.!?])$/, '$1.'), property.writeOnly ? 'Kept encrypted; never shown again.' : null].filter(Boolean).join(' ')
    rows.push(fieldRow(`config.${name}`, label, control, { help: help || undefined, required: required.has(name) && !(editing && secretKept) }))
  }

  return {
    element: h('div', { class: 'config-fields' }, ...(rows.length > 0 ? rows : [h('p', { class: 'muted' }, 'This app has no settings.')])),
    read() {
      const config: Record<string, unknown> = {}
      for (const [name, read] of readers) {
        const value = read()
        if (value !== undefined) config[name] = value
      }
      return config
    },
  }
}
