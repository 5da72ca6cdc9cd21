import { ApiError } from './api.ts'
import { h } from './dom.ts'

/**
 * Form pieces shared by the dashboard's forms: a labelled field with room for
 * the API's complaint about it, and the complaints put beside their fields.
 * The forms do not validate on their own (`novalidate`): the API is the one
 * judge, and its `details` name the fields.
 */

let ids = 0

/** A labelled field; `name` is the API's name for it (`name`, `events`, `config.api_key`). */
export function fieldRow(name: string, label: string, control: HTMLElement, options: { help?: string; required?: boolean } = {}): HTMLElement {
  const id = control.id || `f${++ids}`
  control.id = id
  const error = h('div', { class: 'field-error', id: `${id}-error`, role: 'alert' })
  control.setAttribute('aria-describedby', `${id}-error`)
  const checkbox = control instanceof HTMLInputElement && control.type === 'checkbox'
  return h(
    'div',
    { class: checkbox ? 'form-field check' : 'form-field', 'data-field': name },
    checkbox
      ? h('label', { for: id }, control, ' ', label, options.required ? h('span', { class: 'required', title: 'required' }, ' *') : null)
      : h('label', { for: id }, label, options.required ? h('span', { class: 'required', title: 'required' }, ' *') : null),
    checkbox ? null : control,
    options.help ? h('div', { class: 'help' }, options.help) : null,
    error,
  )
}

/** Clears every complaint the form shows. */
export function clearErrors(form: HTMLElement): void {
  for (const row of form.querySelectorAll<HTMLElement>('.form-field.invalid')) row.classList.remove('invalid')
  for (const error of form.querySelectorAll<HTMLElement>('.field-error, .form-error')) error.textContent = ''
}

/** The row a `details` field names: `events[2]` is the `events` row, `config.a.b` the `config.a` one. */
function rowFor(form: HTMLElement, field: string): HTMLElement | null {
  let name = field
  for (;;) {
    const row = form.querySelector<HTMLElement>(`.form-field[data-field="${CSS.escape(name)}"]`)
    if (row) return row
    const shorter = name.replace(/(\[\d+\]|\.[^.[\]]*)$/, '')
    if (shorter === name || shorter === '') return null
    name = shorter
  }
}

/**
 * Shows what the API refused: each of its `details` beside the field it names,
 * and the message at the form's foot (for what names no field, and as the summary).
 * `codeFields` names the field of errors that carry no details (`UNSAFE_WEBHOOK_URL` → `webhook_url`).
 * Returns false for an error that is not a refusal of the form's content, for the caller to report.
 */
export function showErrors(form: HTMLElement, error: unknown, codeFields: Record<string, string> = {}): boolean {
  clearErrors(form)
  if (!(error instanceof ApiError) || error.status === 401 || error.status >= 500) return false
  const details = error.details.length > 0 ? error.details : codeFields[error.code] ? [{ field: codeFields[error.code]!, problem: error.message }] : []
  let placed = 0
  for (const detail of details) {
    const row = rowFor(form, detail.field)
    if (!row) continue
    row.classList.add('invalid')
    const box = row.querySelector<HTMLElement>('.field-error')!
    box.textContent = box.textContent ? `${box.textContent}; ${detail.problem}` : detail.problem
    placed++
  }
  const summary = form.querySelector<HTMLElement>('.form-error')
  if (summary) summary.textContent = placed > 0 ? `${placed === 1 ? 'A field needs' : `${placed} fields need`} attention (${error.code}).` : error.message
  form.querySelector<HTMLElement>('.form-field.invalid input, .form-field.invalid select, .form-field.invalid textarea')?.focus()
  return true
}

/** The line under a form's buttons where a refusal is summed up. */
export const formError = () => h('div', { class: 'form-error', role: 'alert' })

/**
 * A confirmation in the page's own dialog (not window.confirm, which blocks the
 * page and cannot say what will happen in more than a line).
 */
export function confirmAction(title: string, text: string, action: string): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'confirm', 'data-confirm': action })
    const close = (answer: boolean) => {
      dialog.close()
      dialog.remove()
      resolve(answer)
    }
    dialog.append(
      h('h3', {}, title),
      h('p', {}, text),
      h(
        'div',
        { class: 'buttons' },
        h('button', { type: 'button', 'data-action': 'cancel', onclick: () => close(false) }, 'Cancel'),
        h('button', { type: 'button', class: 'danger', 'data-action': 'confirm', onclick: () => close(true) }, action),
      ),
    )
    dialog.addEventListener('cancel', () => close(false))
    document.body.append(dialog)
    dialog.showModal()
  })
}
