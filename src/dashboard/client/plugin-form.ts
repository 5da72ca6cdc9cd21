import { api, type Plugin } from './api.ts'
import { h } from './dom.ts'
import { confirmAction, fieldRow, formError, showErrors } from './form.ts'
import type { Feedback } from './marketplace.ts'

/**
 * Registering and editing the store's own (private) plugins from the dashboard:
 * the same POST and PATCH /api/plugins a script would send, in a dialog. The
 * signing secret is shown once, right after registering, as the API returns it
 * once. An app's plugin is managed on the app's page instead (the API refuses
 * to edit it).
 */

/** Refusals that name no field in `details` but are about one. */
const CODE_FIELDS = { UNSAFE_WEBHOOK_URL: 'webhook_url', RESERVED_SLUG: 'slug', SLUG_TAKEN: 'slug', UNKNOWN_EVENT: 'events' }

let eventTypes: string[] | undefined

async function subscribable(): Promise<string[]> {
  eventTypes ??= (await api<{ event_types: { name: string; subscribable: boolean }[] }>('GET', '/api/event-types')).event_types
    .filter((e) => e.subscribable)
    .map((e) => e.name)
  return eventTypes
}

/** Opens the dialog: a new plugin without `plugin`, that one's settings with it. `done` runs after a change. */
export async function openPluginDialog(feedback: Feedback, done: () => void, plugin?: Plugin): Promise<void> {
  let events: string[]
  try {
    events = await subscribable()
  } catch (error) {
    feedback.failed(error)
    return
  }
  const name = h('input', { type: 'text', name: 'name', value: plugin?.name ?? '', maxlength: 100, autocomplete: 'off' })
  const slug = h('input', { type: 'text', name: 'slug', value: plugin?.slug ?? '', maxlength: 64, autocomplete: 'off', spellcheck: 'false', placeholder: 'my-plugin', disabled: plugin !== undefined })
  const url = h('input', { type: 'text', name: 'webhook_url', value: plugin?.webhook_url ?? '', maxlength: 2048, autocomplete: 'off', spellcheck: 'false', placeholder: 'https://…' })
  const chosen = new Set(plugin?.events ?? [])
  const boxes = events.map((e) => h('input', { type: 'checkbox', value: e, checked: chosen.has(e) }))
  const eventList = h('div', { class: 'event-choices' }, ...boxes.map((box) => h('label', {}, box, ' ', box.value)))
  const submit = h('button', { type: 'submit' }, plugin ? 'Save' : 'Register')
  const dialog = h('dialog', { class: 'plugin-dialog', 'data-dialog': 'plugin' })
  const close = () => {
    dialog.close()
    dialog.remove()
  }
  const form = h(
    'form',
    { class: 'stacked', novalidate: true, 'data-form': 'plugin' },
    h('h3', {}, plugin ? `Edit ${plugin.slug}` : 'Register a plugin'),
    fieldRow('name', 'Name', name, { required: true }),
    fieldRow('slug', 'Slug', slug, { required: true, help: plugin ? 'A plugin keeps its slug.' : 'Lowercase words joined by hyphens; it names the plugin in the API.' }),
    fieldRow('webhook_url', 'Webhook URL', url, { required: true, help: 'Where each signed delivery is POSTed.' }),
    fieldRow('events', 'Events', eventList, { required: true }),
    h(
      'div',
      { class: 'buttons' },
      plugin ? h('button', { type: 'button', class: 'danger', 'data-action': 'delete', onclick: () => void remove() }, 'Delete') : null,
      h('button', { type: 'button', 'data-action': 'cancel', onclick: close }, 'Cancel'),
      submit,
    ),
    formError(),
  )
  const remove = async () => {
    if (!plugin || !(await confirmAction(`Delete ${plugin.slug}?`, 'Its deliveries not yet sent are cancelled; its history stays in the events log.', 'Delete'))) return
    try {
      await api('DELETE', `/api/plugins/${encodeURIComponent(plugin.slug)}`)
      feedback.toast(`${plugin.slug} deleted`)
      close()
      done()
    } catch (error) {
      if (!showErrors(form, error)) feedback.failed(error)
    }
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const body = { name: name.value.trim(), webhook_url: url.value.trim(), events: boxes.filter((b) => b.checked).map((b) => b.value) }
    submit.disabled = true
    const request: Promise<Plugin & { secret?: string }> = plugin
      ? api('PATCH', `/api/plugins/${encodeURIComponent(plugin.slug)}`, body)
      : api('POST', '/api/plugins', { ...body, slug: slug.value.trim() })
    void request
      .then((saved) => {
        done()
        if (!plugin && saved.secret) {
          // the one time the secret is in an answer: show it, and how to get it again
          dialog.replaceChildren(
            h('h3', {}, `${saved.slug} registered`),
            h('p', {}, 'Its signing secret, to verify each delivery (GET /api/plugins/', saved.slug, '/secret shows it again):'),
            h('pre', { class: 'payload', 'data-secret': '' }, saved.secret),
            h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: close }, 'Done')),
          )
          return
        }
        feedback.toast(`${saved.slug} saved`)
        close()
      })
      .catch((error: unknown) => showErrors(form, error, CODE_FIELDS) || feedback.failed(error))
      .finally(() => (submit.disabled = false))
  })
  dialog.append(form)
  dialog.addEventListener('cancel', () => dialog.remove())
  document.body.append(dialog)
  dialog.showModal()
  name.focus()
}
