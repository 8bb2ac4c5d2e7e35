import { AuditService } from '../audit/audit.service';
import { NewAuditEvent, originOf } from '../audit/audit-events';
import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Response } from 'express';
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { Repository } from 'typeorm';
import { AUTH_SWITCH_OPTIONS, AuthSwitchOptions } from '../config/auth-switch.options';
import type { AuthenticatedRequest, UserPrincipal } from '../common/authenticated-request';
import { DeviceActivity } from '../tokens/device-activity';
import { SessionService } from '../sessions/session.service';
import { RefreshFamily } from '../tokens/refresh-family.entity';
import { RefreshTokenService } from '../tokens/refresh-token.service';
import { RevocationService } from '../tokens/revocation.service';
import { authError } from '../common/auth-errors';

export type DeviceKind = 'session' | 'refresh';

/** One sign-in of the user as the device list shows it. */
export interface Device {
  /** An opaque handle (see handleOf), never a session id or a token. */
  id: string;
  kind: DeviceKind;
  /** The sign-in this request was made with. */
  current: boolean;
  createdAt: string;
  lastUsedAt: string;
  ip: string;
  userAgent: string;
}

/** A sign-in with its real id, which stays on the server. */
interface Entry {
  kind: DeviceKind;
  /** The session id or the refresh family id. */
  ref: string;
  handle: string;
  createdAt: number;
  lastUsedAt: number | null;
  ip: string;
  userAgent: string;
}

/** 16 bytes of HMAC-SHA256, base64url. */
const HANDLE = /^[A-Za-z0-9_-]{22}$/;

/**
 * The user's sign-ins: each live web session and each live refresh-token family. They are shown
 * and ended by a handle, an HMAC of the kind and the real id under a key derived from the session
 * secret: stable across instances and restarts, useless to anyone who reads it (it names a
 * sign-in but proves nothing), and no session id or family id ever leaves the server. Ending
 * one lists the user's sign-ins again and matches the handle among them, so a handle of another
 * user's sign-in, or of one already ended, is simply not found.
 */
@Injectable()
export class DevicesService {
  private readonly handleKey: Buffer;

  constructor(
    @Inject(AUTH_SWITCH_OPTIONS) config: AuthSwitchOptions,
    private readonly sessions: SessionService,
    private readonly refreshTokens: RefreshTokenService,
    private readonly revocation: RevocationService,
    private readonly activity: DeviceActivity,
    @InjectRepository(RefreshFamily) private readonly families: Repository<RefreshFamily>,
    private readonly audit: AuditService,
  ) {
    // A key of its own, so that the handles say nothing about the secret that signs cookies.
    this.handleKey = Buffer.from(hkdfSync('sha256', config.session.secret, 'authswitch', 'device-list handle v1', 32));
  }

  /** The user's sign-ins, oldest first; `current` marks the one the request was made with. */
  async list(user: UserPrincipal, req: AuthenticatedRequest): Promise<Device[]> {
    const entries = await this.entries(user.id);
    return entries.map((entry) => ({
      id: entry.handle,
      kind: entry.kind,
      current: this.isCurrent(entry, user, req),
      createdAt: new Date(entry.createdAt).toISOString(),
      lastUsedAt: new Date(Math.max(entry.createdAt, entry.lastUsedAt ?? 0)).toISOString(),
      ip: entry.ip,
      userAgent: entry.userAgent,
    }));
  }

  /**
   * Ends the sign-in with this handle: the session is deleted from its store, or the family is
   * revoked together with every access token issued from it (on every instance). Ending the
   * request's own session also clears its cookie. 404 for a handle that is not one of the user's.
   */
  async end(user: UserPrincipal, handle: unknown, req: AuthenticatedRequest, res: Response): Promise<{ kind: DeviceKind; current: boolean }> {
    const wanted = typeof handle === 'string' && HANDLE.test(handle) ? Buffer.from(handle) : null;
    if (!wanted) throw this.notFound();
    let found: Entry | undefined;
    // Compared in constant time, every entry, whether or not one matched already.
    for (const entry of await this.entries(user.id)) {
      if (timingSafeEqual(Buffer.from(entry.handle), wanted) && !found) found = entry;
    }
    if (!found) throw this.notFound();
    const current = this.isCurrent(found, user, req);
    const event: NewAuditEvent = {
      type: 'session.ended',
      actor: { kind: 'user', id: user.id },
      userId: user.id,
      origin: originOf(req, user.group ?? null),
      details: { kind: found.kind, current },
    };
    if (found.kind === 'refresh') {
      await this.refreshTokens.revokeFamily(found.ref, event);
      return { kind: found.kind, current };
    }
    if (current) await this.sessions.destroy(req, res);
    else await this.sessions.destroyById(user.id, found.ref);
    // Sessions live in their own store: the event is written on its own, once the session is gone.
    await this.audit.recordNow(event);
    return { kind: found.kind, current };
  }

  private isCurrent(entry: Entry, user: UserPrincipal, req: AuthenticatedRequest): boolean {
    return entry.kind === 'session' ? entry.ref === req.authSession?.id : entry.ref === user.familyId;
  }

  /** The user's live sessions and families, with their last use merged with this instance's unwritten marks. */
  private async entries(userId: string): Promise<Entry[]> {
    const [sessions, families] = await Promise.all([this.sessions.listForUser(userId), this.liveFamilies(userId)]);
    const entries: Entry[] = [];
    for (const { sid, auth, lastUsedAt } of sessions) {
      // A session of an older user version (logout-all, a role change) is dead, even if still stored.
      if (this.revocation.isRevoked({ userId, version: auth.version ?? 0 })) continue;
      entries.push({
        kind: 'session',
        ref: sid,
        handle: this.handleOf('session', sid),
        createdAt: auth.createdAt,
        lastUsedAt: latest(lastUsedAt, this.activity.lastSessionMark(sid)),
        ip: auth.ip ?? '',
        userAgent: auth.userAgent ?? '',
      });
    }
    for (const family of families) {
      if (this.revocation.isFamilyRevoked(family.id)) continue;
      entries.push({
        kind: 'refresh',
        ref: family.id,
        handle: this.handleOf('refresh', family.id),
        createdAt: family.createdAt,
        lastUsedAt: latest(family.lastUsedAt, this.activity.lastFamilyMark(family.id)),
        ip: family.ip ?? '',
        userAgent: family.userAgent ?? '',
      });
    }
    return entries.sort((a, b) => a.createdAt - b.createdAt || a.kind.localeCompare(b.kind));
  }

  /**
   * Families that can still refresh: not revoked, started at or after the user's last
   * logout-all, and holding an unspent refresh token that has not expired.
   */
  private liveFamilies(userId: string): Promise<RefreshFamily[]> {
    return this.families
      .createQueryBuilder('family')
      .innerJoin('family.user', 'owner')
      .where('family.userId = :userId', { userId })
      .andWhere('family.revokedAt IS NULL')
      .andWhere('family.userVersion >= owner.logoutVersion')
      .andWhere('EXISTS (SELECT 1 FROM refresh_tokens token WHERE token.family_id = family.id AND token.used_at IS NULL AND token.expires_at > :now)', {
        now: Date.now(),
      })
      .getMany();
  }

  private handleOf(kind: DeviceKind, ref: string): string {
    return createHmac('sha256', this.handleKey).update(`${kind}:${ref}`).digest().subarray(0, 16).toString('base64url');
  }

  private notFound(): NotFoundException {
    return authError('SESSION_NOT_FOUND');
  }
}

function latest(stored: number | null, marked: number | undefined): number | null {
  if (marked === undefined) return stored;
  return stored === null ? marked : Math.max(stored, marked);
}
