import { createHash } from 'node:crypto';
import type { UserPrincipal } from '../common/authenticated-request';
import type { Device } from '../auth/devices.service';
import type { AdminUser } from '../auth/admin-users.service';
import type { AuditEvent } from '../audit/audit-events';

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** What a form page shows again after a refused submission. The password is never part of it. */
export interface FormState {
  error?: string;
  email?: string;
  name?: string;
}

function layout(title: string, group: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · AuthSwitch</title>
${head}
<style>
body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}
label{display:block;margin:.75rem 0}input{display:block;width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem}#error{color:#b00020}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;font-size:.9rem}
</style>
</head>
<body data-group="${escapeHtml(group)}">
${body}
<script src="${PAGES_SCRIPT_PATH}"></script>
</body>
</html>`;
}

function errorBox(error: string | undefined): string {
  return `<p id="error" role="alert">${escapeHtml(error ?? '')}</p>`;
}

/** An input's value attribute, or nothing when there is none to show. */
function valueOf(value: string | undefined): string {
  return value ? ` value="${escapeHtml(value)}"` : '';
}

// Every form is a real POST form, so without scripts (or before the script has loaded) the
// browser posts the fields in the body and never puts a password in the URL. data-action lets
// the script take over the same form when it runs.

export function loginPage(group: string, state: FormState = {}): string {
  return layout(
    'Sign in',
    group,
    `<h1>Sign in</h1>
<form method="post" action="/login" data-action="login">
<label>Email <input type="email" name="email" autocomplete="username" required${valueOf(state.email)}></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
${errorBox(state.error)}
<button type="submit">Sign in</button>
</form>
<p><a href="/forgot-password">Forgot your password?</a></p>
<p>No account yet? <a href="/register">Register</a></p>`,
  );
}

export function forgotPasswordPage(group: string, state: FormState = {}): string {
  return layout(
    'Forgot your password?',
    group,
    `<h1>Forgot your password?</h1>
<p>Give the email of your account; a link to choose a new password will be sent to it.</p>
<form method="post" action="/forgot-password">
<label>Email <input type="email" name="email" autocomplete="username" required${valueOf(state.email)}></label>
${errorBox(state.error)}
<button type="submit">Send the link</button>
</form>
<p><a href="/login">Back to sign in</a></p>`,
  );
}

/** The token travels in a hidden field of a POST form, never back into a URL the form makes. */
export function resetPasswordPage(group: string, token: string, state: FormState = {}): string {
  return layout(
    'Choose a new password',
    group,
    `<h1>Choose a new password</h1>
<form method="post" action="/reset-password">
<input type="hidden" name="token"${valueOf(token)}>
<label>New password <input type="password" name="password" autocomplete="new-password" minlength="8" maxlength="256" required></label>
${errorBox(state.error)}
<button type="submit">Set the password</button>
</form>`,
  );
}

/**
 * The page the verification link opens. Opening it changes nothing (mail scanners follow links):
 * the token waits in a hidden field of a POST form, and the button confirms.
 */
export function verifyEmailPage(group: string, token: string, state: FormState = {}): string {
  return layout(
    'Confirm your email address',
    group,
    `<h1>Confirm your email address</h1>
<p>Press the button to confirm that this address is yours.</p>
<form method="post" action="/verify-email">
<input type="hidden" name="token"${valueOf(token)}>
${errorBox(state.error)}
<button type="submit">Confirm my address</button>
</form>`,
  );
}

export function registerPage(group: string, state: FormState = {}): string {
  return layout(
    'Register',
    group,
    `<h1>Create an account</h1>
<form method="post" action="/register" data-action="register">
<label>Name <input type="text" name="name" autocomplete="name" maxlength="100"${valueOf(state.name)}></label>
<label>Email <input type="email" name="email" autocomplete="username" required${valueOf(state.email)}></label>
<label>Password <input type="password" name="password" autocomplete="new-password" minlength="8" maxlength="256" required></label>
${errorBox(state.error)}
<button type="submit">Register</button>
</form>
<p>Already registered? <a href="/login">Sign in</a></p>`,
  );
}

const DEVICE_KINDS: Record<Device['kind'], string> = { session: 'Web session', refresh: 'App (refresh token)' };

/**
 * The account page: the user's sign-ins (web sessions and refresh-token families), each with a
 * plain POST form that ends it, and the logout form. Every form carries the session's CSRF
 * token in `_csrf`, since a form cannot send the header the API wants.
 */
export function accountPage(group: string, user: UserPrincipal, devices: Device[], csrfToken: string): string {
  const csrfField = `<input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">`;
  const rows = devices
    .map(
      (device) =>
        `<tr><td>${escapeHtml(DEVICE_KINDS[device.kind])}</td><td>${escapeHtml(device.createdAt)}</td><td>${escapeHtml(device.lastUsedAt)}</td><td>${escapeHtml(device.ip)}</td><td>${escapeHtml(device.userAgent)}</td><td>${device.current ? (device.kind === 'session' ? 'this browser' : 'this client') : ''}</td>` +
        `<td><form method="post" action="/account/sessions/end">${csrfField}<input type="hidden" name="id" value="${escapeHtml(device.id)}"><button type="submit" class="end-session">${device.current ? 'Sign out here' : 'End'}</button></form></td></tr>`,
    )
    .join('\n');
  return layout(
    'Account',
    group,
    `<h1>Your account</h1>
<p>Signed in as <strong id="email">${escapeHtml(user.email)}</strong>${user.name ? ` (${escapeHtml(user.name)})` : ''}.</p>
<h2>Where you are signed in</h2>
<table id="sessions"><thead><tr><th>Kind</th><th>Since</th><th>Last used</th><th>Address</th><th>Browser</th><th></th><th></th></tr></thead>
<tbody>
${rows}
</tbody></table>
${errorBox(undefined)}
<form method="post" action="/logout" data-action="logout">
${csrfField}
<button type="submit" id="logout">Log out</button>
</form>`,
    `<meta name="csrf-token" content="${escapeHtml(csrfToken)}">`,
  );
}

/** Sign-ins of one hour, for the chart of the admin page. */
export interface HourlySignIns {
  /** Epoch ms of the hour's start. */
  hourStart: number;
  succeeded: number;
  failed: number;
}

export interface AdminPageView {
  admin: UserPrincipal;
  csrfToken: string;
  /** The search as typed (shown again, kept through the buttons). */
  query: string;
  users: AdminUser[];
  /** The link to the next page of users, if any. */
  nextCursor: string | null;
  events: AuditEvent[];
  chart: HourlySignIns[];
  error?: string;
}

/** `/admin`, with the search kept (and, for the next page, the cursor). */
export function adminHref(query: string, cursor?: string): string {
  const params = new URLSearchParams();
  if (query) params.set('query', query);
  if (cursor) params.set('cursor', cursor);
  const search = params.toString();
  return search ? `/admin?${search}` : '/admin';
}

const CHART = { width: 720, height: 200, top: 20, bottom: 30, left: 36, right: 8 };

/**
 * Sign-ins (green) and failed sign-ins (red) per hour, as an inline SVG drawn here: no script,
 * no image request. One `<g class="hour">` per hour, each with its two bars and a tooltip.
 */
export function signInChart(hours: HourlySignIns[]): string {
  const plotHeight = CHART.height - CHART.top - CHART.bottom;
  const slot = (CHART.width - CHART.left - CHART.right) / Math.max(1, hours.length);
  const barWidth = Math.max(2, Math.floor((slot - 4) / 2));
  const max = Math.max(1, ...hours.flatMap((hour) => [hour.succeeded, hour.failed]));
  const heightOf = (count: number) => Math.round((count / max) * plotHeight);
  const groups = hours
    .map((hour, index) => {
      const x = Math.round(CHART.left + index * slot + 2);
      const time = new Date(hour.hourStart).toISOString();
      const label = `${time.slice(0, 13)}:00 UTC: ${hour.succeeded} sign-ins, ${hour.failed} failed`;
      const bar = (count: number, offset: number, kind: string, colour: string) =>
        `<rect class="${kind}" x="${x + offset}" y="${CHART.top + plotHeight - heightOf(count)}" width="${barWidth}" height="${heightOf(count)}" fill="${colour}" data-count="${count}"></rect>`;
      const tick = index % 3 === 0 ? `<text x="${x}" y="${CHART.height - 10}" font-size="10" fill="#555">${escapeHtml(time.slice(11, 13))}h</text>` : '';
      return `<g class="hour" data-hour="${escapeHtml(time)}"><title>${escapeHtml(label)}</title>${bar(hour.succeeded, 0, 'succeeded', '#2e7d32')}${bar(hour.failed, barWidth, 'failed', '#c62828')}${tick}</g>`;
    })
    .join('');
  const axis = `<line x1="${CHART.left}" y1="${CHART.top + plotHeight}" x2="${CHART.width - CHART.right}" y2="${CHART.top + plotHeight}" stroke="#999"></line>`;
  const scale = `<text x="0" y="${CHART.top + 4}" font-size="10" fill="#555">${max}</text><text x="0" y="${CHART.top + plotHeight}" font-size="10" fill="#555">0</text>`;
  return `<svg id="sign-in-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${CHART.width} ${CHART.height}" width="100%" role="img" aria-labelledby="sign-in-chart-title"><title id="sign-in-chart-title">Sign-ins and failed sign-ins per hour, last 24 hours (UTC)</title>${scale}${axis}${groups}</svg>
<p class="legend"><span style="color:#2e7d32">&#9632;</span> sign-ins <span style="color:#c62828">&#9632;</span> failed sign-ins (hours in UTC)</p>`;
}

/**
 * The administration page: the users (searchable, a page at a time) with a disable or enable
 * button each, the recent audit events, and the sign-in chart. Every button is a plain POST form
 * with the session's CSRF token, so the page works without scripts.
 */
export function adminPage(group: string, view: AdminPageView): string {
  const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
  const common = hidden('_csrf', view.csrfToken) + hidden('query', view.query);
  const action = (user: AdminUser) => {
    if (user.id === view.admin.id) return '<td>(you)</td>';
    if (user.disabled) {
      return `<td><form method="post" action="/admin/users/enable">${common}${hidden('id', user.id)}<button type="submit" class="enable-user">Enable</button></form></td>`;
    }
    return `<td><form method="post" action="/admin/users/disable">${common}${hidden('id', user.id)}<input type="text" name="reason" placeholder="Reason" aria-label="Reason for disabling ${escapeHtml(user.email)}" maxlength="200" required><button type="submit" class="disable-user">Disable</button></form></td>`;
  };
  const userRows = view.users
    .map(
      (user) =>
        `<tr data-user-id="${escapeHtml(user.id)}"><td class="email">${escapeHtml(user.email)}</td><td>${escapeHtml(user.name)}</td><td>${escapeHtml(user.roles.join(', '))}</td><td>${escapeHtml(user.createdAt.slice(0, 10))}</td><td>${escapeHtml(user.lastLoginAt ?? '')}</td><td class="status">${user.disabled ? 'disabled' : 'active'}</td>${action(user)}</tr>`,
    )
    .join('\n');
  const eventRows = view.events
    .map(
      (event) =>
        `<tr><td>${escapeHtml(event.type)}</td><td>${escapeHtml(event.at)}</td><td>${escapeHtml(event.actor.kind)}${event.actor.id ? ` ${escapeHtml(event.actor.id)}` : ''}</td><td>${escapeHtml(event.userId ?? '')}</td></tr>`,
    )
    .join('\n');
  const next = view.nextCursor ? `<p><a id="next-page" href="${escapeHtml(adminHref(view.query, view.nextCursor))}">Next page</a></p>` : '';
  return layout(
    'Administration',
    group,
    `<h1>Administration</h1>
<p>Signed in as <strong id="email">${escapeHtml(view.admin.email)}</strong>. <a href="/account">Your account</a></p>
${errorBox(view.error)}
<h2>Sign-ins, last 24 hours</h2>
${signInChart(view.chart)}
<h2>Users</h2>
<form method="get" action="/admin" role="search">
<label>Search by email or name <input type="search" name="query" maxlength="320"${valueOf(view.query)}></label>
<button type="submit" id="search">Search</button>
</form>
<table id="users"><thead><tr><th>Email</th><th>Name</th><th>Roles</th><th>Created</th><th>Last sign-in</th><th>Status</th><th></th></tr></thead>
<tbody>
${userRows}
</tbody></table>
${next}
<h2>Recent events</h2>
<table id="events"><thead><tr><th>Event</th><th>When</th><th>By</th><th>User</th></tr></thead>
<tbody>
${eventRows}
</tbody></table>`,
    // Wider than the form pages; more specific than the layout's own body rule.
    '<style>html body{max-width:64rem}form[action^="/admin/users"]{display:flex;gap:.3rem}form[action^="/admin/users"] input,form[action^="/admin/users"] button{margin:0;width:auto}</style>',
  );
}

/** A refusal that has no form of its own to show it in (a logout form that failed its check). */
export function messagePage(group: string, title: string, message: string, link: { href: string; text: string }): string {
  return layout(
    title,
    group,
    `<h1>${escapeHtml(title)}</h1>
${errorBox(message)}
<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.text)}</a></p>`,
  );
}

/**
 * The pages' only script, served from our origin so that helmet's CSP can forbid inline code.
 * It takes over the forms and sends them as JSON to the API (the CSRF token in a header); the
 * session cookie stays HttpOnly. Without it the same forms post to the page routes.
 */
export const PAGES_SCRIPT = `(() => {
  'use strict';
  const group = document.body.dataset.group;
  const errorBox = document.getElementById('error');
  const showError = async (response) => {
    let message = 'Something went wrong (' + response.status + ')';
    try { message = (await response.json()).message || message; } catch (e) {}
    errorBox.textContent = message;
  };
  const postJson = (url, body, headers) => fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: Object.assign({ 'Content-Type': 'application/json' }, headers || {}),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const signIn = async (data) => {
    const login = await postJson('/' + group + '/auth/login', { email: data.email, password: data.password });
    if (!login.ok) return showError(login);
    window.location.assign('/account');
  };

  const actions = {
    login: signIn,
    register: async (data) => {
      const registered = await postJson('/auth/register', data);
      if (!registered.ok) return showError(registered);
      return signIn(data);
    },
    logout: async (data) => {
      const response = await postJson('/' + group + '/auth/logout', undefined, { 'X-CSRF-Token': data._csrf });
      // 401: the session had already ended; either way the user is signed out.
      if (!response.ok && response.status !== 401) return showError(response);
      window.location.assign('/login');
    },
  };

  for (const form of document.querySelectorAll('form[data-action]')) {
    const action = actions[form.dataset.action];
    if (!action) continue;
    let busy = false;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (busy) return;
      busy = true;
      errorBox.textContent = '';
      try {
        await action(Object.fromEntries(new FormData(form)));
      } catch (e) {
        errorBox.textContent = 'The server could not be reached; try again';
      } finally {
        busy = false;
      }
    });
  }
})();
`;

/**
 * Where the pages load the script from. The query names the script's content, so a browser
 * that cached an older script (max-age) never runs it against newer markup.
 */
export const PAGES_SCRIPT_PATH = `/assets/pages.js?v=${createHash('sha256').update(PAGES_SCRIPT).digest('hex').slice(0, 12)}`;
