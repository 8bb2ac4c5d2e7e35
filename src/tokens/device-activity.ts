import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import { RefreshFamily } from './refresh-family.entity';
import { SessionService } from '../sessions/session.service';

/** What was marked used since the last flush, by id (session id or refresh family id) → ms. */
type Marks = Map<string, number>;

/**
 * When each sign-in (a session, a refresh family) was last used, for the device list, kept off
 * the request path: a request only looks its sign-in up in a map and, when the last mark is an
 * interval old or more, sets a new one. A timer writes the new marks every interval (and at
 * shutdown) with writes that only move forward, so one sign-in is written at most once per
 * interval per instance. A session's mark is never written into the session's data (that would
 * bring back a session destroyed meanwhile): see SessionService.recordLastUse.
 */
@Injectable()
export class DeviceActivity implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('DeviceActivity');
  private readonly intervalMs: number;
  /** The latest mark of each sign-in marked within the last interval (flushed or not). */
  private readonly sessionMarks: Marks = new Map();
  private readonly familyMarks: Marks = new Map();
  /** Marks not written yet. */
  private pendingSessions: Marks = new Map();
  private pendingFamilies: Marks = new Map();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) config: AuthSwitchOptions,
    private readonly sessions: SessionService,
    @InjectRepository(RefreshFamily) private readonly families: Repository<RefreshFamily>,
  ) {
    this.intervalMs = config.deviceActivityFlushMs;
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  /** Before the stores close (their own shutdown hooks): the last marks are written. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /** The request used this session (sid). A map lookup; a set at most once per interval. */
  markSession(sid: string): void {
    const now = Date.now();
    const last = this.sessionMarks.get(sid);
    if (last !== undefined && now - last < this.intervalMs) return;
    this.sessionMarks.set(sid, now);
    this.pendingSessions.set(sid, now);
  }

  /** The request used this refresh family (an access token issued from it, or a refresh). */
  markFamily(familyId: string): void {
    const now = Date.now();
    const last = this.familyMarks.get(familyId);
    if (last !== undefined && now - last < this.intervalMs) return;
    this.familyMarks.set(familyId, now);
    this.pendingFamilies.set(familyId, now);
  }

  /** The last use this instance knows of and may not have written yet, to merge into a listing. */
  lastSessionMark(sid: string): number | undefined {
    return this.sessionMarks.get(sid);
  }

  lastFamilyMark(familyId: string): number | undefined {
    return this.familyMarks.get(familyId);
  }

  /** Writes the pending marks; one flush at a time. A store that fails loses these marks, nothing else. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    const sessions = this.pendingSessions;
    const families = this.pendingFamilies;
    this.pendingSessions = new Map();
    this.pendingFamilies = new Map();
    // Marks older than an interval are written and need not be remembered: the next use marks again.
    const cutoff = Date.now() - this.intervalMs;
    for (const marks of [this.sessionMarks, this.familyMarks]) {
      for (const [id, at] of marks) if (at <= cutoff) marks.delete(id);
    }
    try {
      await this.sessions.recordLastUse(sessions);
    } catch (error) {
      this.logger.warn(`last use of ${sessions.size} session(s) not written (${(error as Error).message})`);
    }
    try {
      for (const [id, at] of families) {
        await this.families
          .createQueryBuilder()
          .update()
          .set({ lastUsedAt: at })
          .where('id = :id AND (last_used_at IS NULL OR last_used_at < :at)', { id, at })
          .execute();
      }
    } catch (error) {
      this.logger.warn(`last use of ${families.size} refresh families not written (${(error as Error).message})`);
    }
  }
}
