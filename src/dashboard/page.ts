/**
 * The dashboard's one page: a shell the bundled script fills. No inline script
 * or style (the CSP forbids both); the only server-side values are whether the API
 * wants a key, so the page can ask for one before calling it (and shows no key
 * field when it does not), and the default store's id for the key hint.
 */
export function dashboardPage(options: { authRequired: boolean; defaultTenant: string; scriptHash: string; styleHash: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>BetterCallSold · Plugins</title>
<link rel="icon" href="/dashboard/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard/app.css?v=${options.styleHash}">
<script type="module" src="/dashboard/app.js?v=${options.scriptHash}"></script>
</head>
<body data-auth="${options.authRequired ? 'required' : 'off'}" data-default-tenant="${options.defaultTenant}">
<header>
  <h1><span class="logo">◆</span> BetterCallSold <span class="muted">Plugins</span></h1>
  <span id="live" class="live down">offline</span>
  <nav id="views" class="views" aria-label="Views">
    <a href="#" data-view="monitor">Monitoring</a>
    <a href="#marketplace" data-view="marketplace">Marketplace</a>
    <a href="#apps" data-view="apps">Installed apps</a>
  </nav>
  <nav>
    <a href="/docs">API docs</a>
    <a href="/openapi.json">OpenAPI</a>
    <a href="/metrics">Metrics</a>
  </nav>
  <form id="key-form" autocomplete="off"${options.authRequired ? '' : ' hidden'}>
    <input id="key-input" type="password" placeholder="API key" aria-label="API key" spellcheck="false">
    <button type="submit">Save key</button>
  </form>
</header>
<div id="auth-banner" class="banner" hidden></div>
<main id="view-monitor">
  <section class="card wide">
    <div class="card-head">
      <h2>Plugins</h2>
      <button type="button" id="plugin-new" data-action="register">Register plugin</button>
    </div>
    <div class="scroll">
      <table class="plugins">
        <thead><tr>
          <th>Plugin</th><th>Status</th><th>Events</th><th class="num">Last hour</th><th class="num">Last day</th>
          <th class="num">Success</th><th class="num">p50 / p95</th><th>Last error</th><th></th>
        </tr></thead>
        <tbody id="plugins"><tr><td colspan="9" class="empty">Loading…</td></tr></tbody>
      </table>
    </div>
  </section>
  <section class="card wide">
    <h2>Deliveries per minute <span class="muted">last hour</span></h2>
    <div id="chart"></div>
    <div class="legend"><span class="key sent"></span>sent <span class="key retry"></span>retry <span class="key failed"></span>failed</div>
  </section>
  <section class="card wide" id="analytics">
    <div class="card-head">
      <h2>Analytics</h2>
      <select id="analytics-plugin" aria-label="Plugin"><option value="">All plugins</option></select>
      <span id="analytics-ranges" class="ranges"></span>
    </div>
    <div id="analytics-body"><p class="muted">Loading…</p></div>
  </section>
  <section class="card">
    <div class="card-head">
      <h2>Live feed</h2>
      <select id="feed-plugin" aria-label="Plugin"><option value="">All plugins</option></select>
      <select id="feed-event" aria-label="Event type"><option value="">All events</option></select>
    </div>
    <ul id="feed" class="feed"></ul>
  </section>
  <section class="card">
    <h2>Delivery</h2>
    <div id="detail" class="detail"><p class="muted">Select a delivery in the feed to see its payload, headers and attempts.</p></div>
  </section>
</main>
<main id="view-marketplace" class="single" hidden>
  <section class="card" id="market-list">
    <div class="card-head">
      <h2>Marketplace</h2>
      <input id="market-q" type="search" placeholder="Search apps (typos are fine)" aria-label="Search apps" autocomplete="off" spellcheck="false" maxlength="200">
      <select id="market-sort" aria-label="Sort"></select>
    </div>
    <div id="market-chips" class="chips"></div>
    <p id="market-searched" class="muted"></p>
    <div id="market-results" class="app-grid"><p class="muted">Loading…</p></div>
    <div class="more"><button type="button" id="market-more" hidden>More apps</button></div>
  </section>
  <section class="card" id="market-app" hidden></section>
</main>
<main id="view-apps" class="single" hidden>
  <section class="card" id="apps-list">
    <div class="card-head"><h2>Installed apps</h2><a href="#marketplace">Marketplace →</a></div>
    <div id="apps-installed" class="app-grid"><p class="muted">Loading…</p></div>
  </section>
  <section class="card" id="apps-one" hidden></section>
</main>
<div id="toast" class="toast" role="status" aria-live="polite"></div>
</body>
</html>
`
}
