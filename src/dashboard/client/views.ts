import { leaveInstalled, showInstallation, showInstalledList } from './installed.ts'
import { showApp, showMarketplace, type Feedback } from './marketplace.ts'

/**
 * The page's views, by the URL's fragment, so the back button and a shared link work:
 * `#` monitoring, `#marketplace`, `#marketplace/<slug>`, `#apps`, `#apps/<installation id>`.
 */
const VIEWS = ['monitor', 'marketplace', 'apps'] as const
type View = (typeof VIEWS)[number]

function route(): { view: View; arg: string } {
  const [head = '', ...rest] = location.hash.replace(/^#\/?/, '').split('/')
  let arg = rest.join('/')
  try {
    arg = decodeURIComponent(arg)
  } catch {
    // a hand-typed fragment that does not decode: used as it is (the API answers 404 for it)
  }
  return { view: head === 'marketplace' || head === 'apps' ? head : 'monitor', arg }
}

export function startViews(feedback: Feedback): void {
  const show = () => {
    const { view, arg } = route()
    for (const name of VIEWS) document.getElementById(`view-${name}`)!.hidden = name !== view
    for (const tab of document.querySelectorAll<HTMLAnchorElement>('#views a')) {
      if (tab.dataset.view === view) tab.setAttribute('aria-current', 'page')
      else tab.removeAttribute('aria-current')
    }
    // the installation page's own stream closes when the page is left
    if (view !== 'apps' || !arg) leaveInstalled()
    if (view === 'marketplace') void (arg ? showApp(arg, feedback) : showMarketplace(feedback))
    if (view === 'apps') void (arg ? showInstallation(arg, feedback) : showInstalledList(feedback))
  }
  window.addEventListener('hashchange', show)
  show()
}
