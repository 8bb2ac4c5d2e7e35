import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTransport, Transporter } from 'nodemailer';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';

export interface Mail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** Delays between the attempts of one mail: a short outage of the SMTP server is ridden out. */
const RETRY_DELAYS_MS = [1_000, 5_000, 15_000];
/** How long shutdown waits for mails still being delivered. */
const SHUTDOWN_WAIT_MS = 5_000;

/**
 * Sends mail without ever holding up or failing the request that caused it: `send()` queues the
 * mail and returns at once; delivery happens afterwards, with retries, and a mail that still
 * fails is logged (never its body, which may hold a one-time link). With SMTP_URL the mail goes
 * through nodemailer's SMTP transport; without it, each mail is written to DATA_DIR/mail as an
 * .eml file and its subject logged, so that development needs no mail server.
 */
@Injectable()
export class MailService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Mail');
  private readonly transport: Transporter;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(@Inject(AUTH_SWITCH_OPTIONS) private readonly options: AuthSwitchOptions) {
    const { smtpUrl } = options.mail;
    // No pooled connection: mails are rare (sign-ups, resets), and a broken pooled socket would
    // need its own recovery. Timeouts keep a dead server from holding deliveries for minutes.
    this.transport = smtpUrl
      ? createTransport(smtpUrl, { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 })
      : createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  }

  onApplicationBootstrap(): void {
    if (this.options.production && !this.options.mail.smtpUrl) {
      this.logger.warn(`SMTP_URL is not set: mails (password resets, email verification) are only written to ${this.options.mail.dir}, nobody receives them`);
    }
  }

  /** Queues a mail; never throws, never waits for delivery. */
  send(mail: Mail): void {
    const delivery = this.deliver(mail).finally(() => this.inFlight.delete(delivery));
    this.inFlight.add(delivery);
  }

  /** Resolves once every mail queued so far has been delivered or given up on. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.race([this.idle(), new Promise((resolve) => setTimeout(resolve, SHUTDOWN_WAIT_MS).unref())]);
    this.transport.close();
  }

  private async deliver(mail: Mail): Promise<void> {
    const message = { from: this.options.mail.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html };
    for (let attempt = 0; ; attempt++) {
      try {
        const info = (await this.transport.sendMail(message)) as { message?: Buffer };
        if (!this.options.mail.smtpUrl) await this.writeEml(info.message ?? Buffer.from(''), mail.subject);
        return;
      } catch (error) {
        const reason = (error as Error).message;
        if (attempt >= RETRY_DELAYS_MS.length) {
          this.logger.error(`mail "${mail.subject}" could not be delivered after ${attempt + 1} attempts: ${reason}`);
          return;
        }
        this.logger.warn(`mail "${mail.subject}" not delivered (${reason}); retrying`);
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[attempt]).unref());
      }
    }
  }

  private async writeEml(message: Buffer, subject: string): Promise<void> {
    // Readable by the server's user only: the file holds one-time links.
    await mkdir(this.options.mail.dir, { recursive: true, mode: 0o700 });
    const file = join(this.options.mail.dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`);
    await writeFile(file, message, { mode: 0o600 });
    this.logger.log(`mail "${subject}" written to ${file}`);
  }
}
