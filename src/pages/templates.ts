import type { Principal } from '../common/authenticated-request';
import type { ActiveSession } from '../sessions/session-data';

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
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
<script src="/assets/pages.js"></script>
</body>
</html>`;
}

export function loginPage(group: string): string {
  return layout(
    'Sign in',
    group,
    `<h1>Sign in</h1>
<form data-action="login">
<label>Email <input type="email" name="email" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<p id="error" role="alert"></p>
<button type="submit">Sign in</button>
</form>
<p>No account yet? <a href="/register">Register</a></p>`,
  );
}

export function registerPage(group: string): string {
  return layout(
    'Register',
    group,
    `<h1>Create an account</h1>
<form data-action="register">
<label>Name <input type="text" name="name" autocomplete="name"></label>
<label>Email <input type="email" name="email" autocomplete="username" required></label>
<label>Password <input type="password" name="password" autocomplete="new-password" minlength="8" required></label>
<p id="error" role="alert"></p>
<button type="submit">Register</button>
</form>
<p>Already registered? <a href="/login">Sign in</a></p>`,
  );
}

export function accountPage(group: string, user: Principal, sessions: ActiveSession[], csrfToken: string): string {
  const rows = sessions
    .map(
      (session) =>
        `<tr><td>${escapeHtml(session.createdAt)}</td><td>${escapeHtml(session.ip)}</td><td>${escapeHtml(session.userAgent)}</td><td>${session.current ? 'this browser' : ''}</td></tr>`,
    )
    .join('\n');
  return layout(
    'Account',
    group,
    `<h1>Your account</h1>
<p>Signed in as <strong id="email">${escapeHtml(user.email)}</strong>${user.name ? ` (${escapeHtml(user.name)})` : ''}.</p>
<h2>Active sessions</h2>
<table id="sessions"><thead><tr><th>Since</th><th>Address</th><th>Browser</th><th></th></tr></thead>
<tbody>
${rows}
</tbody></table>
<p id="error" role="alert"></p>
<button type="button" id="logout">Log out</button>`,
    `<meta name="csrf-token" content="${escapeHtml(csrfToken)}">`,
  );
}

/**
 * The pages' only script, served from our origin so that helmet's CSP can forbid inline code.
 * It sends forms as JSON and the CSRF token in a header; the session cookie stays HttpOnly.
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

  const form = document.querySelector('form[data-action]');
  if (form) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      errorBox.textContent = '';
      const data = Object.fromEntries(new FormData(form));
      if (form.dataset.action === 'register') {
        const registered = await postJson('/auth/register', data);
        if (!registered.ok) return showError(registered);
      }
      const login = await postJson('/' + group + '/auth/login', { email: data.email, password: data.password });
      if (!login.ok) return showError(login);
      window.location.assign('/account');
    });
  }

  const logout = document.getElementById('logout');
  if (logout) {
    logout.addEventListener('click', async () => {
      const token = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
      const response = await postJson('/' + group + '/auth/logout', undefined, { 'X-CSRF-Token': token });
      if (!response.ok && response.status !== 401) return showError(response);
      window.location.assign('/login');
    });
  }
})();
`;
