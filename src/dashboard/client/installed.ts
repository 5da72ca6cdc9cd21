import { api, ApiError, type Delivery, type DeliveryChange, type Plugin } from './api.ts'
import { configFields } from './config-form.ts'
import { ago, byId, h, replace, time } from './dom.ts'
import { confirmAction, formError, showErrors } from './form.ts'
import { appIcon, loadInstalled, permissionList, type AppListing, type Feedback, type InstallationWithSchema } from './marketplace.ts'
import { follow } from './stream.ts'

/**
 * Installed apps (`#apps`) and one installation's page (`#apps/<id>`): its status
 * and version, granted and pending permissions (with the approval), its settings
 * through the form generated from its version's config schema, pause and resume,
 * its deliveries as they happen, a review, and uninstalling.
 */

/** The stream's events that are a delivery's change (the others: ready, reset, revoked). */
const CHANGES = new Set(['created', 'sent', 'retry', 'failed', 'requeued', 'disabled'])
/** Deliveries shown on an installation's page. */
const RECENT = 15

let stream: ReturnType<typeof follow> | undefined
/** Each delivery once, at its newest state. */
let deliveries = new Map<number, { id: number; event: string; status: string; at: string; detail: string }>()

/** Leaving the page: its stream closes. */
export function leaveInstalled(): void {
  stream?.stop()
  stream = undefined
}

export async function showInstalledList(feedback: Feedback): Promise<void> {
  leaveInstalled()
  byId('apps-list').hidden = false
  byId('apps-one').hidden = true
  const list = byId('apps-installed')
  try {
    const installed = [...(await loadInstalled()).values()]
    if (installed.length === 0) {
      replace(list, h('p', { class: 'empty' }, 'No app installed. ', h('a', { href: '#marketplace' }, 'Find one in the Marketplace →')))
      return
    }
    replace(
      list,
      ...installed.map((i) =>
        h(
          'a',
          { class: 'app-card', href: `#apps/${i.id}`, 'data-installation': i.id, 'data-app': i.app.slug },
          appIcon(i.app),
          h(
            'div',
            { class: 'app-card-body' },
            h('div', { class: 'app-card-title' }, h('span', { class: 'name' }, i.app.name), h('span', { class: `badge ${i.status}` }, i.status)),
            h('div', { class: 'muted' }, `version ${i.version} · installed ${time(i.created_at)}`),
            i.pending_version ? h('div', {}, h('span', { class: 'badge paused' }, `version ${i.pending_version} waits for your approval`)) : null,
          ),
        ),
      ),
    )
  } catch (error) {
    feedback.failed(error)
  }
}

function outcome(code: number | null, error: string | null): string {
  return error ?? (code === null ? '' : `HTTP ${code}`)
}

function renderDeliveries(): void {
  const list = document.getElementById('app-deliveries')
  if (!list) return
  const items = [...deliveries.values()].sort((a, b) => b.id - a.id).slice(0, RECENT)
  if (items.length === 0) {
    replace(list, h('li', { class: 'empty' }, 'No delivery yet.'))
    return
  }
  replace(
    list,
    ...items.map((d) =>
      h(
        'li',
        { 'data-delivery': d.id, 'data-event': d.event, 'data-status': d.status },
        h('span', { class: 'mono' }, `#${d.id}`),
        h('span', { class: 'chip' }, d.event),
        h('span', { class: `badge ${d.status}` }, d.status),
        h('span', { class: 'muted' }, `${ago(d.at)} ${d.detail}`),
      ),
    ),
  )
}

async function followDeliveries(plugin: string, feedback: Feedback): Promise<void> {
  deliveries = new Map()
  const load = async () => {
    const { events } = await api<{ events: Delivery[] }>('GET', `/api/plugins/events?${new URLSearchParams({ plugin, limit: String(RECENT) })}`)
    for (const d of events) {
      if (!deliveries.has(d.id)) deliveries.set(d.id, { id: d.id, event: d.event, status: d.status, at: d.sent_at ?? d.created_at, detail: outcome(d.last_status_code, d.last_error) })
    }
    renderDeliveries()
  }
  stream = follow({
    url: () => `/api/plugins/events/stream?${new URLSearchParams({ plugin })}`,
    onState: () => {},
    onEvent(name, data) {
      if (name === 'reset') void load().catch(feedback.failed)
      if (!CHANGES.has(name)) return
      const change = data as DeliveryChange
      if (change.plugin !== plugin) return
      deliveries.set(change.delivery_id, {
        id: change.delivery_id,
        event: change.event,
        status: change.status,
        at: change.at,
        detail: change.attempt ? outcome(change.attempt.status_code, change.attempt.error) : '',
      })
      renderDeliveries()
    },
  })
  await load()
}

function settingsForm(installation: InstallationWithSchema, feedback: Feedback, reload: () => void): HTMLElement {
  const fields = configFields(installation.config_schema, installation.config, installation.secret_config_keys)
  const button = h('button', { type: 'submit' }, 'Save settings')
  const form = h('form', { class: 'stacked', novalidate: true, 'data-form': 'settings' }, fields.element, h('div', { class: 'buttons' }, button), formError())
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    button.disabled = true
    void api('PATCH', `/api/installations/${installation.id}`, { config: fields.read() })
      .then(() => {
        feedback.toast('Settings saved; the app was told')
        reload()
      })
      .catch((error: unknown) => showErrors(form, error) || feedback.failed(error))
      .finally(() => (button.disabled = false))
  })
  return form
}

function pendingBlock(installation: InstallationWithSchema, listing: AppListing | null, feedback: Feedback, reload: () => void): HTMLElement | null {
  if (!installation.pending_version) return null
  const purposes = new Map(listing?.permissions.map((p) => [p.permission, p.purpose]) ?? [])
  const block = h('div', { class: 'pending', 'data-pending': installation.pending_version })
  const approve = (config?: Record<string, unknown>, form?: HTMLElement) =>
    api('POST', `/api/installations/${installation.id}/approve`, config ? { config } : {})
      .then(() => {
        feedback.toast(`Version ${installation.pending_version} approved`)
        reload()
      })
      .catch((error: unknown) => {
        // the new version needs settings the current config lacks: ask for them with its own form
        if (!form && listing && error instanceof ApiError && error.code === 'CONFIG_INVALID_FOR_VERSION') {
          const fields = configFields(listing.config_schema, installation.config, installation.secret_config_keys)
          const again = h('form', { class: 'stacked', novalidate: true, 'data-form': 'approve' }, h('p', {}, `Version ${installation.pending_version} needs these settings:`), fields.element, h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Approve with these settings')), formError())
          again.addEventListener('submit', (event) => {
            event.preventDefault()
            void approve(fields.read(), again)
          })
          block.append(again)
          showErrors(again, error)
          return
        }
        if (!form || !showErrors(form, error)) feedback.failed(error)
      })
  block.append(
    h('p', {}, h('strong', {}, `Version ${installation.pending_version}`), ' asks for these permissions:'),
    permissionList((installation.pending_permissions ?? []).map((p) => ({ permission: p, purpose: purposes.get(p) })), { 'data-list': 'pending' }),
    h('button', { type: 'button', 'data-action': 'approve', onclick: () => void approve() }, 'Approve'),
  )
  return block
}

function reviewForm(slug: string, feedback: Feedback): HTMLElement {
  const rating = h('select', { name: 'rating' }, ...[5, 4, 3, 2, 1].map((n) => h('option', { value: n }, `${'★'.repeat(n)}${'☆'.repeat(5 - n)}`)))
  const body = h('textarea', { name: 'body', rows: 3, maxlength: 2000, placeholder: 'What does it do well, or not?' })
  const form = h(
    'form',
    { class: 'stacked', novalidate: true, 'data-form': 'review' },
    h('div', { class: 'form-field', 'data-field': 'rating' }, h('label', {}, 'Rating'), rating, h('div', { class: 'field-error' })),
    h('div', { class: 'form-field', 'data-field': 'body' }, h('label', {}, 'Review'), body, h('div', { class: 'field-error' })),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Post review')),
    formError(),
  )
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    void api('POST', `/api/marketplace/${encodeURIComponent(slug)}/reviews`, { rating: Number(rating.value), body: body.value })
      .then(() => feedback.toast('Review posted; posting again replaces it'))
      .catch((error: unknown) => showErrors(form, error) || feedback.failed(error))
  })
  return form
}

/** One installation's page. */
export async function showInstallation(id: string, feedback: Feedback): Promise<void> {
  leaveInstalled()
  byId('apps-list').hidden = true
  const panel = byId('apps-one')
  panel.hidden = false
  replace(panel, h('p', { class: 'muted' }, 'Loading…'))
  const reload = () => void showInstallation(id, feedback)
  let installation: InstallationWithSchema
  let listing: AppListing | null
  let plugin: Plugin | null
  try {
    installation = await api<InstallationWithSchema>('GET', `/api/installations/${encodeURIComponent(id)}`)
    ;[listing, plugin] = await Promise.all([
      api<AppListing>('GET', `/api/marketplace/${encodeURIComponent(installation.app.slug)}`).catch(() => null),
      api<Plugin>('GET', `/api/plugins/${encodeURIComponent(installation.plugin)}`).catch(() => null),
    ])
  } catch (error) {
    replace(panel, h('p', { class: 'empty' }, error instanceof Error ? error.message : String(error)), h('a', { href: '#apps' }, '← Installed apps'))
    feedback.failed(error)
    return
  }
  const purposes = new Map(listing?.permissions.map((p) => [p.permission, p.purpose]) ?? [])
  const deliveryStatus = plugin?.status ?? 'unknown'
  const paused = deliveryStatus !== 'active'
  const setStatus = async () => {
    try {
      if (deliveryStatus === 'disabled') await api('POST', `/api/plugins/${encodeURIComponent(installation.plugin)}/enable`)
      else await api('PATCH', `/api/plugins/${encodeURIComponent(installation.plugin)}`, { status: paused ? 'active' : 'paused' })
      feedback.toast(paused ? `${installation.app.name} resumed` : `${installation.app.name} paused: its deliveries wait`)
      reload()
    } catch (error) {
      feedback.failed(error)
    }
  }
  const uninstall = async () => {
    const sure = await confirmAction(
      `Uninstall ${installation.app.name}?`,
      'Its access tokens stop working at once, deliveries not yet sent are cancelled, and the app is told. Installing it again later starts afresh.',
      'Uninstall',
    )
    if (!sure) return
    try {
      await api('DELETE', `/api/installations/${installation.id}`)
      feedback.toast(`${installation.app.name} uninstalled`)
      location.hash = '#apps'
    } catch (error) {
      feedback.failed(error)
    }
  }

  replace(
    panel,
    h('a', { href: '#apps', class: 'back' }, '← Installed apps'),
    h(
      'div',
      { class: 'app-head', 'data-installation-page': installation.id, 'data-app': installation.app.slug },
      appIcon(installation.app, 'large'),
      h(
        'div',
        {},
        h('h2', {}, installation.app.name),
        h(
          'div',
          { class: 'app-card-meta' },
          h('span', { class: `badge ${installation.status}`, 'data-field': 'status' }, installation.status),
          h('span', { class: `badge ${deliveryStatus}`, 'data-field': 'delivery-status', title: 'Its deliveries' }, `deliveries ${deliveryStatus}`),
          h('span', { class: 'muted', 'data-field': 'version' }, `version ${installation.version}`, installation.app.latest_version !== installation.version ? ` (latest ${installation.app.latest_version})` : ''),
          h('a', { href: `#marketplace/${encodeURIComponent(installation.app.slug)}` }, 'Listing'),
        ),
      ),
      h(
        'div',
        { class: 'head-actions' },
        h('button', { type: 'button', 'data-action': paused ? 'resume' : 'pause', onclick: () => void setStatus() }, deliveryStatus === 'disabled' ? 'Enable' : paused ? 'Resume' : 'Pause'),
        h('button', { type: 'button', class: 'danger', 'data-action': 'uninstall', onclick: () => void uninstall() }, 'Uninstall'),
      ),
    ),
    h(
      'div',
      { class: 'app-columns' },
      h(
        'div',
        {},
        h('section', { class: 'app-section' }, h('h4', {}, 'Settings'), settingsForm(installation, feedback, reload)),
        h('section', { class: 'app-section' }, h('h4', {}, 'Deliveries ', h('span', { class: 'muted' }, 'live')), h('ul', { id: 'app-deliveries', class: 'deliveries' })),
      ),
      h(
        'aside',
        {},
        h(
          'section',
          { class: 'app-section' },
          h('h4', {}, 'Permissions granted'),
          permissionList(installation.permissions.map((p) => ({ permission: p, purpose: purposes.get(p) })), { 'data-list': 'granted' }),
          pendingBlock(installation, listing, feedback, reload),
        ),
        h('section', { class: 'app-section' }, h('h4', {}, 'Your review'), reviewForm(installation.app.slug, feedback)),
      ),
    ),
  )
  renderDeliveries()
  await followDeliveries(installation.plugin, feedback).catch(feedback.failed)
}
