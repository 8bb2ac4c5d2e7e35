import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestApp } from './test-app';

/** The mails an app without SMTP_URL has written (.eml files in DATA_DIR/mail), oldest first. */
export function mails(t: TestApp): string[] {
  const dir = join(t.config.dataDir, 'mail');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.eml'))
    .sort()
    .map((file) => readFileSync(join(dir, file), 'utf8'));
}

/** The mails to this address, oldest first. */
export function mailsTo(t: TestApp, email: string): string[] {
  return mails(t).filter((raw) => raw.includes(`To: ${email}`));
}

/**
 * The token of the newest link to `path` (e.g. `/reset-password`) mailed to this address, with
 * quoted-printable soft line breaks and `=3D` undone.
 */
export function linkToken(t: TestApp, email: string, path: string): string | undefined {
  const mail = mailsTo(t, email)
    .pop()
    ?.replace(/=\r?\n/g, '');
  const match = mail?.match(new RegExp(`${path}\\?token=(?:3D)?([A-Za-z0-9_-]+)`));
  return match?.[1];
}
