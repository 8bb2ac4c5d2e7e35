import type { RevocationKind } from './revocation.entity';

/**
 * The in-process revocation state of one instance, without Nest, TypeORM or Redis: what is
 * revoked, how far the log has been read, and whether the copy can still be trusted. The
 * RevocationService feeds it (events from the log and from pub/sub, sync results, subscription
 * changes); the request path asks it. Pure and clock-injected, so it is unit-tested as is.
 */

/** One revocation-log entry as applied here (from the log, or as broadcast). */
export interface RevocationEvent {
  seq: number;
  kind: RevocationKind;
  subject: string;
  version: number | null;
  expiresAt: number | null;
}

/** What a credential carries that revocation can refer to. */
export interface CredentialStamp {
  userId: string;
  /** The user's credential version the credential was built from. */
  version: number;
  jti?: string;
  familyId?: string;
  /** Client tokens: the machine client they were issued to. */
  clientId?: string;
}

/**
 * Two clocks: `now` is the wall clock (epoch ms) that entry expiries are written in, shared with
 * the other instances within the clock margin; `monotonic` measures intervals on this instance
 * only (staleness, hole patience) and never jumps.
 */
export interface RevocationClock {
  now(): number;
  monotonic(): number;
}

export interface RevocationStateOptions {
  /** Longer than this since the last successful read of the log began: not current (503). */
  maxStalenessMs: number;
  /** A skipped log position older than this belongs to a transaction that rolled back. */
  holePatienceMs: number;
  /** More skipped positions than this at once: read everything again. */
  maxHoles: number;
  /** After a full load, re-read this many of the newest positions (they may still have been committing). */
  reloadOverlap: number;
}

/** Why the state cannot vouch for itself right now; null when it can. */
export type Unavailability = 'not-subscribed' | 'not-read-since-subscribing' | 'stale' | null;

export class RevocationState {
  private readonly revokedTokens = new Map<string, number>();
  private readonly revokedFamilies = new Map<string, number>();
  private readonly revokedClients = new Map<string, number>();
  /** Users who confirmed their address while credentials saying otherwise may still be alive. */
  private readonly verifiedUsers = new Map<string, number>();
  private readonly versions = new Map<string, number>();

  /** The highest log position applied, and the lower positions not seen yet (with when, monotonic). */
  private lastSeq = 0;
  private readonly holes = new Map<number, number>();
  /** Monotonic: when the last successful read of the log started; when the subscription last came up. */
  private lastReadStart = Number.NEGATIVE_INFINITY;
  private subscribedSince: number | null = null;
  private fullReloadNeeded = false;

  constructor(
    private readonly options: RevocationStateOptions,
    readonly clock: RevocationClock,
  ) {}

  /** True when the credential was revoked, alone, with its family, its client, or by a newer user version. */
  isRevoked(stamp: CredentialStamp): boolean {
    return (
      (stamp.jti !== undefined && this.revokedTokens.has(stamp.jti)) ||
      (stamp.familyId !== undefined && this.revokedFamilies.has(stamp.familyId)) ||
      (stamp.clientId !== undefined && this.revokedClients.has(stamp.clientId)) ||
      stamp.version < (this.versions.get(stamp.userId) ?? 0)
    );
  }

  isFamilyRevoked(familyId: string): boolean {
    return this.revokedFamilies.has(familyId);
  }

  hasVerifiedEmail(userId: string): boolean {
    return this.verifiedUsers.has(userId);
  }

  /** Applies one event. Idempotent and order-independent: sets only grow, versions only rise. */
  apply(event: RevocationEvent): void {
    this.track(Number(event.seq));
    const expiresAt = event.expiresAt === null ? null : Number(event.expiresAt);
    if (event.kind === 'token' && expiresAt !== null) this.revokedTokens.set(event.subject, expiresAt);
    else if (event.kind === 'family' && expiresAt !== null) this.revokedFamilies.set(event.subject, expiresAt);
    else if (event.kind === 'client' && expiresAt !== null) this.revokedClients.set(event.subject, expiresAt);
    else if (event.kind === 'verified' && expiresAt !== null) this.verifiedUsers.set(event.subject, expiresAt);
    else if (event.kind === 'user' && event.version !== null) this.raiseVersion(event.subject, Number(event.version));
  }

  /** A user's credential version as read from the users table (full load): only ever raises it. */
  raiseVersion(userId: string, version: number): void {
    if (version > (this.versions.get(userId) ?? 0)) this.versions.set(userId, version);
  }

  /** Log positions: remember the ones skipped (a transaction still committing) to read them later. */
  private track(seq: number): void {
    if (!Number.isSafeInteger(seq)) {
      this.fullReloadNeeded = true;
      return;
    }
    if (seq <= this.lastSeq) {
      this.holes.delete(seq);
      return;
    }
    if (seq - this.lastSeq - 1 > this.options.maxHoles) {
      this.fullReloadNeeded = true;
    } else {
      const now = this.clock.monotonic();
      for (let missing = this.lastSeq + 1; missing < seq; missing++) this.holes.set(missing, now);
    }
    this.lastSeq = seq;
  }

  /** Where the next read of the log starts: after `after`, plus the skipped positions still worth waiting for. */
  readPosition(startedAt: number): { after: number; holes: number[] } {
    for (const [seq, seenAt] of this.holes) if (startedAt - seenAt > this.options.holePatienceMs) this.holes.delete(seq);
    return { after: this.lastSeq, holes: [...this.holes.keys()] };
  }

  /** Whether the next read must be a full load: a position could not be tracked, or the last read is long ago. */
  needsFullReload(startedAt: number, fullReloadAfterMs: number): boolean {
    return this.fullReloadNeeded || startedAt - this.lastReadStart > fullReloadAfterMs;
  }

  /** A read of the log that started at `startedAt` (monotonic) succeeded: everything committed before is applied. */
  readSucceeded(startedAt: number): void {
    this.lastReadStart = Math.max(this.lastReadStart, startedAt);
  }

  /**
   * A full load: the unexpired entries, the raised versions (applied by the caller through
   * apply/raiseVersion), and the newest position. Positions are read again from a little before
   * the newest, since newer ones may still have been committing.
   */
  fullLoadSucceeded(startedAt: number, newestSeq: number): void {
    this.lastSeq = Math.max(0, newestSeq - this.options.reloadOverlap);
    this.holes.clear();
    this.fullReloadNeeded = false;
    this.readSucceeded(startedAt);
  }

  /** The pub/sub subscription is (again) live: messages from now on arrive. */
  subscribed(): void {
    this.subscribedSince = this.clock.monotonic();
  }

  /** The subscription dropped: messages may be lost until it is back and the log has been read. */
  subscriptionLost(): void {
    this.subscribedSince = null;
  }

  /**
   * Whether the copy may be trusted now. With a broadcast (`broadcast` true), only while the
   * subscription is live and the log has been read since it (re)started; the comparison is
   * between moments, so an older read finishing late never vouches for a newer reconnect. And
   * in every case, only while the last successful read of the log began at most maxStalenessMs
   * ago: a revoking instance whose broadcast failed answers only after that long, so by then
   * every instance has either read its entry or stopped vouching.
   */
  unavailability(broadcast: { ready: boolean } | null): Unavailability {
    if (broadcast) {
      if (this.subscribedSince === null || !broadcast.ready) return 'not-subscribed';
      if (this.lastReadStart < this.subscribedSince) return 'not-read-since-subscribing';
    }
    if (this.clock.monotonic() - this.lastReadStart > this.options.maxStalenessMs) return 'stale';
    return null;
  }

  /** Forgets entries whose every credential has expired (wall clock). */
  prune(): void {
    const now = this.clock.now();
    for (const map of [this.revokedTokens, this.revokedFamilies, this.revokedClients, this.verifiedUsers]) {
      for (const [key, expiresAt] of map) if (expiresAt <= now) map.delete(key);
    }
  }

  /** How many entries are held (tokens, families, clients, verified users, versions), for tests and metrics. */
  get size(): number {
    return this.revokedTokens.size + this.revokedFamilies.size + this.revokedClients.size + this.verifiedUsers.size + this.versions.size;
  }

  /** The highest position applied and the positions still awaited (tests). */
  get position(): { lastSeq: number; holes: number[] } {
    return { lastSeq: this.lastSeq, holes: [...this.holes.keys()] };
  }
}
