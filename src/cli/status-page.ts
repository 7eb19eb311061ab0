/**
 * The status page at `/` of the loopback endpoint: one server-rendered HTML page, no external
 * assets, a strict Content-Security-Policy (the one inline script and the one inline style are
 * allowed by their SHA-256 hashes, nothing else loads), so it works offline and cannot be made to
 * run injected markup. It shows systems, held prunes, manifest errors, image pulls and the latest
 * events. Live: the script follows `/events?follow=1` (the existing event stream) and, at most
 * every 250 ms while events arrive, replaces the page body with `/?fragment=1`, the same
 * server-side rendering without the page shell. Everything shown is escaped here, on the server.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Controller, ControllerStatus, HistoryEvent, SystemStatus } from '../../reconciler/index.ts';
import { actualText, age } from './output.ts';

/** How many of the latest events the page lists. */
const EVENTS_SHOWN = 40;

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #59636e; --bg: #ffffff; --line: #d1d9e0; --ok: #1a7f37; --warn: #9a6700; --err: #cf222e; --head: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --line: #30363d; --ok: #3fb950; --warn: #d29922; --err: #f85149; --head: #161b22; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 1.25rem 1.5rem; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1rem; align-items: baseline; flex-wrap: wrap; border-bottom: 1px solid var(--line); padding-bottom: .5rem; }
h1 { font-size: 1.25rem; margin: 0; }
h2 { font-size: 1rem; margin: 1.4rem 0 .4rem; }
.muted, .empty { color: var(--muted); }
.badge { font-weight: 600; }
.ok { color: var(--ok); } .warn { color: var(--warn); } .err { color: var(--err); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--head); font-weight: 600; white-space: nowrap; }
td.id, td.mono, .mono { font-family: ui-monospace, SFMono-Regular, Consolas, monospace; font-size: 12.5px; }
td.num { text-align: right; }
ul { margin: .2rem 0; padding-left: 1.2rem; }
#live[data-state="live"] { color: var(--ok); } #live[data-state="offline"] { color: var(--err); }
`;

const SCRIPT = `
(() => {
  const main = document.getElementById('main');
  const live = document.getElementById('live');
  let timer = 0, busy = false, again = false;
  const refresh = async () => {
    timer = 0;
    if (busy) { again = true; return; }
    busy = true;
    try {
      const res = await fetch('/?fragment=1', { cache: 'no-store' });
      if (res.ok) main.innerHTML = await res.text();
    } catch (err) { /* the stream below notices and reconnects */ }
    busy = false;
    if (again) { again = false; schedule(); }
  };
  const schedule = () => { if (!timer) timer = setTimeout(refresh, 250); };
  const state = (s, text) => { live.dataset.state = s; live.textContent = text; };
  const follow = async () => {
    for (;;) {
      try {
        const res = await fetch('/events?follow=1', { cache: 'no-store' });
        if (!res.ok || !res.body) throw new Error('no stream');
        state('live', 'live');
        const reader = res.body.getReader();
        for (;;) {
          const { done } = await reader.read();
          if (done) break;
          schedule();
        }
      } catch (err) { /* controller gone or restarting */ }
      state('offline', 'disconnected, retrying');
      await new Promise((r) => setTimeout(r, 2000));
      schedule();
    }
  };
  setInterval(schedule, 15000); // ages keep moving without events
  follow();
})();
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The policy: nothing but this page's own script and style, and fetches to this endpoint. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Escape text for HTML content and quoted attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function stateClass(s: SystemStatus): string {
  if (s.lastError || s.phase === 'failed') return 'err';
  if (s.actual === s.desired || (s.desired === 'Stopped' && s.actual === 'Absent')) return 'ok';
  return 'warn';
}

function message(s: SystemStatus): string {
  return s.lastError ?? s.pending[0] ?? (s.lastKnownGood ? 'manifest invalid: running last valid spec' : '');
}

function systemsSection(st: ControllerStatus, now: number): string {
  if (st.systems.length === 0) return '<p class="empty">No systems: the manifests folder declares none and HCS has none of ours.</p>';
  const rows = st.systems.map((s) => `<tr data-system="${escapeHtml(s.name)}" data-actual="${escapeHtml(s.actual)}" data-restarts="${s.restarts}">` +
    `<td>${escapeHtml(s.name)}</td><td>${escapeHtml(s.desired)}</td><td class="${stateClass(s)}">${escapeHtml(actualText(s))}</td>` +
    `<td class="id">${escapeHtml(s.ids.join(', ') || '-')}</td><td>${s.since ? escapeHtml(age(now - s.since)) : '-'}</td>` +
    `<td class="num">${s.restarts}</td><td>${escapeHtml(message(s))}${s.nextRetryAt ? ` <span class="muted">(retry in ${escapeHtml(age(s.nextRetryAt - now))})</span>` : ''}</td></tr>`);
  return `<table id="systems"><thead><tr><th>Name</th><th>Desired</th><th>Actual</th><th>HCS id</th><th>Age</th><th>Restarts</th><th>Last message</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function prunesSection(st: ControllerStatus): string {
  if (!st.pruneHold) return '<p class="empty">None.</p>';
  const held = st.systems.filter((s) => s.desired === 'Absent');
  const names = held.length > 0 ? `<ul>${held.map((s) => `<li class="mono">${escapeHtml(s.name)} (${escapeHtml(s.ids.join(', '))})</li>`).join('')}</ul>` : '';
  return `<p class="warn" id="prune-hold">${escapeHtml(st.pruneHold)}</p>${names}`;
}

function errorsSection(st: ControllerStatus): string {
  if (st.manifestErrors.length === 0) return '<p class="empty">None: every manifest is valid.</p>';
  const items = st.manifestErrors.map((e) => `<li><span class="mono">${escapeHtml(`${e.file}:${e.line}:${e.col}`)}</span> ${e.path ? `<span class="mono">${escapeHtml(e.path)}</span>: ` : ''}${escapeHtml(e.message)}</li>`);
  return `<ul id="manifest-errors">${items.join('')}</ul>`;
}

/** A pull in progress, as a status document may carry it (the image store is not built yet). */
interface PullStatus {
  image?: string;
  ref?: string;
  phase?: string;
  done?: number;
  total?: number;
}

function pullsSection(st: ControllerStatus): string {
  const pulls = ((st as { imagePulls?: PullStatus[] }).imagePulls ?? []).filter(Boolean);
  if (pulls.length === 0) return '<p class="empty">No image pulls in progress.</p>';
  const items = pulls.map((p) => {
    const progress = p.total ? ` ${Math.floor(((p.done ?? 0) / p.total) * 100)}%` : '';
    return `<li><span class="mono">${escapeHtml(p.image ?? p.ref ?? '?')}</span> ${escapeHtml(p.phase ?? '')}${progress}</li>`;
  });
  return `<ul id="image-pulls">${items.join('')}</ul>`;
}

function eventsSection(events: readonly HistoryEvent[]): string {
  if (events.length === 0) return '<p class="empty">No events yet.</p>';
  const rows = events.slice(-EVENTS_SHOWN).reverse().map((e) => `<tr><td class="mono">${escapeHtml(new Date(e.at).toISOString().slice(11, 19))}</td>` +
    `<td>${escapeHtml(e.system)}</td><td>${escapeHtml(e.kind)}</td><td>${escapeHtml(e.message)}${e.hresult ? ` <span class="mono muted">${escapeHtml(e.hresult)}</span>` : ''}</td></tr>`);
  return `<table id="events"><thead><tr><th>Time (UTC)</th><th>System</th><th>Event</th><th>Message</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function summary(st: ControllerStatus): string {
  const state = !st.ready ? '<span class="badge warn">starting</span>' : st.converged ? '<span class="badge ok">converged</span>' : '<span class="badge warn">converging</span>';
  const notes = [
    st.suspended ? '<span class="warn">suspended: observing only</span>' : '',
    st.listError ? `<span class="err">HCS error: ${escapeHtml(st.listError)}</span>` : '',
    ...st.warnings.map((w) => `<span class="warn">warning: ${escapeHtml(w)}</span>`),
    st.unrecognised.length > 0 ? `<span class="warn">${st.unrecognised.length} system(s) with our Owner but an id we did not make (left alone)</span>` : '',
  ].filter(Boolean);
  return `<p>${state} <span class="muted">${st.systems.length} system(s), ${st.passes} reconcile pass(es), owner ${escapeHtml(st.owner)}</span></p>${notes.map((n) => `<p>${n}</p>`).join('')}`;
}

/** The page body (also served alone as `/?fragment=1` for live updates). */
export function renderStatusBody(st: ControllerStatus, events: readonly HistoryEvent[], now: number): string {
  return `${summary(st)}<h2>Systems</h2>${systemsSection(st, now)}<h2>Held prunes</h2>${prunesSection(st)}` +
    `<h2>Manifest errors</h2>${errorsSection(st)}<h2>Image pulls</h2>${pullsSection(st)}<h2>Latest events</h2>${eventsSection(events)}`;
}

/** The whole page. */
export function renderStatusPage(st: ControllerStatus, events: readonly HistoryEvent[], now: number): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>hcs-reconciler status</title><style>${STYLE}</style></head><body>` +
    `<header><h1>hcs-reconciler</h1><span id="live" data-state="connecting">connecting</span></header>` +
    `<main id="main">${renderStatusBody(st, events, now)}</main><script>${SCRIPT}</script></body></html>`;
}

/** Answer `GET /` (the page) or `GET /?fragment=1` (its body, for the live update). */
export function serveStatusPage(controller: Controller, url: URL, res: ServerResponse): void {
  const status = controller.status();
  const events = controller.history.list();
  const now = Date.now();
  const fragment = url.searchParams.get('fragment') === '1';
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': STATUS_PAGE_CSP,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  });
  res.end(fragment ? renderStatusBody(status, events, now) : renderStatusPage(status, events, now));
}
