import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';

/** What a signed-out request for a mail asks for; only the (normalized) address is known. */
export type AccountMailPurpose = 'password-reset' | 'email-verify';

/** Does the work for one address; the same statements whether or not an account uses it. */
export type AccountMailHandler = (email: string) => Promise<void>;

/** How often the worker looks at the queue. */
const DRAIN_INTERVAL_MS = 200;
/** Requests are limited per address and account; this only bounds memory under a flood. */
const MAX_QUEUED = 10_000;

/**
 * Requests that must not tell whether an account exists (forgot password, signed-out resend of
 * the verification link) only put the address here and answer. A worker on its own timer,
 * started at boot and never by a request, does the work later: the lookup, the token and the
 * mail. So neither the request nor the one that follows it runs (or waits behind) work that
 * differs between a known and an unknown address: that work is not on their path at all.
 */
@Injectable()
export class AccountMailQueue implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AccountMail');
  private readonly handlers = new Map<AccountMailPurpose, AccountMailHandler>();
  private readonly jobs: Array<{ purpose: AccountMailPurpose; email: string }> = [];
  private timer?: NodeJS.Timeout;
  private draining: Promise<void> | null = null;

  /** Registered by the service that owns the purpose (password reset, email verification). */
  handle(purpose: AccountMailPurpose, handler: AccountMailHandler): void {
    this.handlers.set(purpose, handler);
  }

  /** Synchronous and the same for every address: no lookup, no I/O. */
  enqueue(purpose: AccountMailPurpose, email: string): void {
    if (this.jobs.length >= MAX_QUEUED) {
      this.logger.warn('account mail queue is full; a request was dropped');
      return;
    }
    this.jobs.push({ purpose, email });
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.drain(), DRAIN_INTERVAL_MS);
    this.timer.unref();
  }

  /** Whatever is queued is still handled (and its mail queued) before the mail service stops. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.idle();
  }

  /** Resolves once every job queued so far has been handled (its mail handed to MailService). */
  async idle(): Promise<void> {
    while (this.jobs.length > 0 || this.draining) await this.drain();
  }

  private drain(): Promise<void> {
    if (this.draining) return this.draining;
    if (this.jobs.length === 0) return Promise.resolve();
    this.draining = (async () => {
      try {
        for (let job = this.jobs.shift(); job; job = this.jobs.shift()) {
          try {
            await this.handlers.get(job.purpose)?.(job.email);
          } catch (error) {
            this.logger.error(`${job.purpose} mail not sent: ${(error as Error).message}`);
          }
        }
      } finally {
        this.draining = null;
      }
    })();
    return this.draining;
  }
}
