import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { loadConfig } from '../src/server/app-config';
import { MailService } from '../src/mail/mail.service';
import { freshDataDir } from './support/environments';
import { freePort } from './support/redis-server';

interface Received {
  from: string;
  to: string[];
  raw: string;
}

/** A real SMTP server on a free port that keeps what it receives; it can refuse the first n mails. */
async function smtpSink(refuseFirst = 0) {
  const received: Received[] = [];
  let refusals = refuseFirst;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
      stream.on('end', () => {
        if (refusals > 0) {
          refusals -= 1;
          return callback(Object.assign(new Error('mailbox busy, try later'), { responseCode: 451 }));
        }
        received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw });
        callback();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `smtp://127.0.0.1:${port}`, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const mail = {
  to: 'ada@example.test',
  subject: 'Reset your password',
  text: 'Open http://x/reset-password?token=abc',
  html: '<p><a href="http://x/reset-password?token=abc">Reset</a></p>',
};

describe('MailService', () => {
  it('sends through SMTP_URL from MAIL_FROM, text and HTML, without waiting in send()', async () => {
    const sink = await smtpSink();
    const config = loadConfig({ DATA_DIR: freshDataDir(), SMTP_URL: sink.url, MAIL_FROM: 'Accounts <accounts@example.test>' });
    const mailer = new MailService(config);
    try {
      expect(mailer.send(mail)).toBeUndefined();
      expect(sink.received).toHaveLength(0); // queued, not yet delivered
      await mailer.idle();
      expect(sink.received).toHaveLength(1);
      const [got] = sink.received;
      expect(got.from).toBe('accounts@example.test');
      expect(got.to).toEqual(['ada@example.test']);
      expect(got.raw).toContain('Subject: Reset your password');
      expect(got.raw).toContain('text/plain');
      expect(got.raw).toContain('text/html');
    } finally {
      await mailer.onApplicationShutdown();
      await sink.close();
    }
  });

  it('retries a mail the server refuses for now, and delivers it', async () => {
    const sink = await smtpSink(1);
    const config = loadConfig({ DATA_DIR: freshDataDir(), SMTP_URL: sink.url });
    const mailer = new MailService(config);
    try {
      mailer.send(mail);
      await mailer.idle();
      expect(sink.received).toHaveLength(1);
    } finally {
      await mailer.onApplicationShutdown();
      await sink.close();
    }
  });

  it('without SMTP_URL writes each mail as an .eml file in DATA_DIR/mail, readable by its owner only', async () => {
    const dataDir = freshDataDir();
    const mailer = new MailService(loadConfig({ DATA_DIR: dataDir }));
    mailer.send(mail);
    mailer.send({ ...mail, subject: 'Verify your email' });
    await mailer.idle();
    await mailer.onApplicationShutdown();
    const dir = join(dataDir, 'mail');
    const files = readdirSync(dir).filter((file) => file.endsWith('.eml'));
    expect(files).toHaveLength(2);
    const contents = files.map((file) => readFileSync(join(dir, file), 'utf8')).join('\n');
    expect(contents).toContain('Subject: Reset your password');
    expect(contents).toContain('Subject: Verify your email');
    expect(contents).toContain('To: ada@example.test');
    for (const file of files) expect(statSync(join(dir, file)).mode & 0o777).toBe(0o600);
  });

  it('takes PUBLIC_URL for links; without it, the address the server listens on (PublicAddress)', () => {
    expect(loadConfig({ DATA_DIR: freshDataDir(), PORT: '4000' }).publicUrl).toBeNull();
    expect(loadConfig({ DATA_DIR: freshDataDir(), PUBLIC_URL: 'https://auth.example.test/' }).publicUrl).toBe('https://auth.example.test');
  });
});
