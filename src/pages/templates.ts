import { createHash } from 'node:crypto';
import type { UserPrincipal } from '../common/authenticated-request';
import type { Device } from '../auth/devices.service';

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
