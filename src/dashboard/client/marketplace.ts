import type { Static } from '@sinclair/typebox'
import type { InstallationDetail, InstallationResponse } from '../../installations/installation.schemas.ts'
import type { Listing, ListingSummary, SearchResponse } from '../../marketplace/marketplace.schemas.ts'
import { api, ApiError } from './api.ts'
import { configFields } from './config-form.ts'
import { byId, h, replace, time } from './dom.ts'
import { formError, showErrors } from './form.ts'
import { renderMarkdown, safeHref } from './markdown.ts'

/**
 * The Marketplace view (`#marketplace`): search as one types (the API corrects
 * typos), category chips with counts, sorting, app cards; and an app's page
 * (`#marketplace/<slug>`): its description, permissions, events, versions,
 * reviews and the install form generated from its config schema.
 */

// The server's own shapes: erased when bundled, so the two cannot drift.
export type AppSummary = Static<typeof ListingSummary>
export type AppListing = Static<typeof Listing>
export type Installation = Static<typeof InstallationResponse>
export type InstallationWithSchema = Static<typeof InstallationDetail>
type Search = Static<typeof SearchResponse>

export interface Feedback {
  failed(error: unknown): void
  toast(message: string, kind?: 'ok' | 'error'): void
}

/** Typing pauses this long before the search runs: one request per pause, not per key. */
const SEARCH_DEBOUNCE_MS = 150
const SORTS = { relevance: 'Best match', popular: 'Most installed', rating: 'Top rated', newest: 'Newest', name: 'Name' } as const
type SortKey = keyof typeof SORTS

const state = {
  q: '',
  category: '',
  sort: '' as SortKey | '',
  apps: [] as AppSummary[],
  cursor: null as string | null,
  categories: new Map<string, string>(),
  installed: new Map<string, Installation>(),
}
/** Only the newest search's answer is drawn: an older one arriving late is dropped. */
let searchSeq = 0
let debounce: number | undefined

/** The app's icon: its initials on a colour of its own. Loading the developer's icon_url would tell them who browses (and the page's CSP allows images from this server only). */
export function appIcon(app: { name: string; slug: string }, size: 'small' | 'large' = 'small'): HTMLElement {
  let hash = 0
  for (const c of app.slug) hash = (hash * 31 + c.charCodeAt(0)) >>> 0
  const initials = app.name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => [...w][0]!.toUpperCase()).join('')
  return h('div', { class: `app-icon hue-${hash % 8} ${size}`, 'aria-hidden': 'true' }, initials || '?')
}

export const stars = (rating: number, count: number) =>
  h('span', { class: 'rating', title: `${rating.toFixed(1)} out of 5` }, count === 0 ? h('span', { class: 'muted' }, 'No reviews') : `★ ${rating.toFixed(1)}`, count > 0 ? h('span', { class: 'muted' }, ` (${count})`) : null)

/** The store's installations by app; none for a key that may browse but not manage apps (not an admin key). */
export async function loadInstalled(): Promise<Map<string, Installation>> {
  try {
    const { installations } = await api<{ installations: Installation[] }>('GET', '/api/installations')
    state.installed = new Map(installations.map((i) => [i.app.slug, i]))
  } catch (error) {
    if (!(error instanceof ApiError && error.code === 'ADMIN_KEY_REQUIRED')) throw error
    state.installed = new Map()
  }
  return state.installed
}

// ---------------------------------------------------------------- search

function query(cursor?: string | null): string {
  const params = new URLSearchParams({ limit: '24' })
  if (state.q) params.set('q', state.q)
  if (state.category) params.set('category', state.category)
  if (state.sort) params.set('sort', state.sort)
  if (cursor) params.set('cursor', cursor)
  return `/api/marketplace?${params}`
}

async function search(feedback: Feedback, more = false): Promise<void> {
  const seq = ++searchSeq
  try {
    const result = await api<Search>('GET', query(more ? state.cursor : null))
    if (seq !== searchSeq) return
    state.apps = more ? [...state.apps, ...result.apps] : result.apps
    state.cursor = result.next_cursor
    renderChips(result.facets)
    const note = byId('market-searched')
    note.textContent = result.searched && result.searched !== state.q.trim().toLowerCase() ? `Showing results for “${result.searched}”` : ''
    note.dataset.searched = result.searched ?? ''
    renderResults()
  } catch (error) {
    if (seq === searchSeq) feedback.failed(error)
  }
}

function renderChips(facets: Search['facets']): void {
  const chip = (slug: string, label: string, count: number | null) =>
    h(
      'button',
      {
        type: 'button',
        class: `filter-chip${state.category === slug ? ' active' : ''}`,
        'data-category': slug,
        'aria-pressed': state.category === slug ? 'true' : 'false',
        onclick: () => {
          state.category = state.category === slug ? '' : slug
          void search(currentFeedback!)
        },
      },
      label,
      count === null ? null : h('span', { class: 'count' }, count),
    )
  replace(
    byId('market-chips'),
    chip('', 'All', null),
    ...facets.map((f) => chip(f.category, state.categories.get(f.category) ?? f.category, f.count)),
    // a chosen category the query no longer matches stays visible, so it can be unchosen
    state.category && !facets.some((f) => f.category === state.category) ? chip(state.category, state.categories.get(state.category) ?? state.category, 0) : null,
  )
}

function appCard(app: AppSummary): HTMLElement {
  const installed = state.installed.has(app.slug)
  return h(
    'a',
    { class: 'app-card', href: `#marketplace/${encodeURIComponent(app.slug)}`, 'data-app': app.slug },
    appIcon(app),
    h(
      'div',
      { class: 'app-card-body' },
      h('div', { class: 'app-card-title' }, h('span', { class: 'name' }, app.name), installed ? h('span', { class: 'badge active' }, 'installed') : null),
      h('div', { class: 'tagline' }, app.tagline),
      h('div', { class: 'app-card-meta' }, stars(app.rating, app.review_count), h('span', { class: 'muted' }, `${app.installs} install${app.installs === 1 ? '' : 's'}`)),
    ),
  )
}

function renderResults(): void {
  const grid = byId('market-results')
  if (state.apps.length === 0) {
    replace(grid, h('p', { class: 'empty' }, state.q || state.category ? 'No app matches.' : 'No app is published yet.'))
  } else {
    replace(grid, ...state.apps.map(appCard))
  }
  byId('market-more').hidden = state.cursor === null
}

let currentFeedback: Feedback | undefined
let wired = false

/** Shows the search view; wires its controls on the first visit. */
export async function showMarketplace(feedback: Feedback): Promise<void> {
  currentFeedback = feedback
  byId('market-list').hidden = false
  byId('market-app').hidden = true
  if (!wired) {
    wired = true
    const input = byId<HTMLInputElement>('market-q')
    input.addEventListener('input', () => {
      window.clearTimeout(debounce)
      debounce = window.setTimeout(() => {
        state.q = input.value.trim()
        void search(feedback)
      }, SEARCH_DEBOUNCE_MS)
    })
    const sort = byId<HTMLSelectElement>('market-sort')
    replace(sort, h('option', { value: '' }, 'Sort: default'), ...Object.entries(SORTS).map(([value, label]) => h('option', { value }, label)))
    sort.addEventListener('change', () => {
      state.sort = sort.value as SortKey | ''
      void search(feedback)
    })
    byId('market-more').addEventListener('click', () => void search(feedback, true))
    try {
      const { categories } = await api<{ categories: { slug: string; name: string }[] }>('GET', '/api/marketplace/categories')
      state.categories = new Map(categories.map((c) => [c.slug, c.name]))
    } catch (error) {
      feedback.failed(error)
    }
  }
  await loadInstalled().catch(feedback.failed)
  await search(feedback)
  byId('market-q').focus()
}

// ---------------------------------------------------------------- one app

function section(title: string, ...children: (Node | null)[]): HTMLElement {
  return h('section', { class: 'app-section' }, h('h4', {}, title), ...children)
}

function externalLink(label: string, url: string | null): HTMLElement | null {
  const href = url ? safeHref(url) : null
  return href ? h('a', { href, rel: 'noopener noreferrer nofollow', target: '_blank' }, label) : null
}

export function permissionList(permissions: { permission: string; purpose?: string }[], attrs: Record<string, string> = {}): HTMLElement {
  if (permissions.length === 0) return h('p', { class: 'muted' }, 'No access to your store’s data.')
  return h(
    'ul',
    { class: 'permissions', ...attrs },
    ...permissions.map((p) => h('li', { 'data-permission': p.permission }, h('span', { class: 'chip' }, p.permission), p.purpose ? h('span', {}, ` ${p.purpose}`) : null)),
  )
}

function installForm(listing: AppListing, feedback: Feedback): HTMLElement {
  const fields = configFields(listing.config_schema)
  const button = h('button', { type: 'submit' }, listing.permissions.length > 0 ? `Install and grant ${listing.permissions.length} permission${listing.permissions.length === 1 ? '' : 's'}` : 'Install')
  const form = h('form', { class: 'install-form stacked', novalidate: true, 'data-form': 'install' }, fields.element, h('div', { class: 'buttons' }, button), formError())
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    button.disabled = true
    void (async () => {
      try {
        const installation = await api<Installation>('POST', `/api/marketplace/${encodeURIComponent(listing.slug)}/install`, {
          accept_permissions: listing.permissions.map((p) => p.permission),
          config: fields.read(),
        })
        feedback.toast(`${listing.name} installed`)
        location.hash = `#apps/${installation.id}`
      } catch (error) {
        // a version published meanwhile asks for other permissions: show them before asking again
        if (error instanceof ApiError && (error.code === 'APP_CHANGED' || error.code === 'PERMISSIONS_NOT_ACCEPTED')) {
          feedback.toast(error.message, 'error')
          void showApp(listing.slug, feedback)
          return
        }
        if (!showErrors(form, error)) feedback.failed(error)
      } finally {
        button.disabled = false
      }
    })()
  })
  return form
}

/** The app's page. */
export async function showApp(slug: string, feedback: Feedback): Promise<void> {
  currentFeedback = feedback
  byId('market-list').hidden = true
  const panel = byId('market-app')
  panel.hidden = false
  replace(panel, h('p', { class: 'muted' }, 'Loading…'))
  let listing: AppListing
  try {
    ;[listing] = await Promise.all([api<AppListing>('GET', `/api/marketplace/${encodeURIComponent(slug)}`), loadInstalled()])
  } catch (error) {
    replace(panel, h('p', { class: 'empty' }, error instanceof Error ? error.message : String(error)), h('a', { href: '#marketplace' }, '← Marketplace'))
    feedback.failed(error)
    return
  }
  const installed = state.installed.get(listing.slug)
  replace(
    panel,
    h('a', { href: '#marketplace', class: 'back' }, '← Marketplace'),
    h(
      'div',
      { class: 'app-head', 'data-app-page': listing.slug },
      appIcon(listing, 'large'),
      h(
        'div',
        {},
        h('h2', {}, listing.name),
        h('div', { class: 'tagline' }, listing.tagline),
        h(
          'div',
          { class: 'app-card-meta' },
          stars(listing.rating, listing.review_count),
          h('span', { class: 'muted' }, `${listing.installs} install${listing.installs === 1 ? '' : 's'}`),
          h('span', { class: 'muted' }, `version ${listing.version}`),
          ...listing.categories.map((c) => h('span', { class: 'chip' }, state.categories.get(c) ?? c)),
        ),
        h(
          'div',
          { class: 'links' },
          externalLink('Website', listing.homepage_url),
          externalLink('Support', listing.support_url),
          externalLink('Privacy policy', listing.privacy_url),
        ),
      ),
    ),
    h(
      'div',
      { class: 'app-columns' },
      h(
        'div',
        {},
        h('div', { class: 'description', 'data-description': '' }, renderMarkdown(listing.description)),
        section(
          `Reviews (${listing.review_count})`,
          listing.reviews.length === 0
            ? h('p', { class: 'muted' }, 'No review yet.')
            : h(
                'ul',
                { class: 'reviews' },
                ...listing.reviews.map((r) => h('li', {}, h('span', { class: 'rating' }, '★'.repeat(r.rating) + '☆'.repeat(5 - r.rating)), h('span', { class: 'muted' }, ` ${time(r.updated_at)}`), r.body ? h('p', {}, r.body) : null)),
              ),
        ),
      ),
      h(
        'aside',
        {},
        section('Permissions', permissionList(listing.permissions)),
        installed
          ? section(
              'Installed',
              h('p', {}, `Version ${installed.version} runs in your store. `, h('a', { href: `#apps/${installed.id}`, 'data-action': 'manage' }, 'Manage it →')),
            )
          : section('Install', installForm(listing, feedback)),
        section(
          'Events it receives',
          listing.events.length === 0 ? h('p', { class: 'muted' }, 'Only its own lifecycle events.') : h('div', {}, ...listing.events.map((e) => h('span', { class: 'chip' }, e))),
        ),
        section('Versions', h('ul', { class: 'versions' }, ...listing.versions.map((v) => h('li', {}, h('span', { class: 'mono' }, v.version), h('span', { class: 'muted' }, ` ${time(v.published_at)}`))))),
      ),
    ),
  )
}
