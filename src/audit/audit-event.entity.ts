import type { AuditDetails } from './audit-events';
import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintMs } from '../common/transformers';

/**
 * The audit trail: one row per security-relevant event, written in the transaction of the change
 * it records. Never a password, token, cookie, secret or one-time token: `details` holds only
 * what the recording code puts there on purpose (see AUDIT_EVENT_TYPES).
 *
 * `seq` orders the trail (newest first, cursor pagination); `id` is the event's public name, also
 * sent to the webhook as `X-AuthSwitch-Event-Id`. The delivery columns make the table its own
 * outbox: a row is due for the webhook while `next_delivery_at` is set.
 */
@Entity('audit_events')
@Index('IDX_audit_events_user', ['userId', 'seq'])
@Index('IDX_audit_events_type', ['type', 'seq'])
export class AuditEventRecord {
  @PrimaryGeneratedColumn('increment', { type: 'integer' })
  seq: number;

  @Index('IDX_audit_events_id', { unique: true })
  @Column({ type: 'varchar', length: 36 })
  id: string;

  @Column({ type: 'varchar', length: 48 })
  type: string;

  @Index('IDX_audit_events_at')
  @Column({ type: 'bigint', transformer: bigintMs })
  at: number;

  @Column({ name: 'actor_kind', type: 'varchar', length: 8 })
  actorKind: string;

  @Column({ name: 'actor_id', type: 'varchar', length: 64, nullable: true })
  actorId: string | null;

  @Column({ name: 'user_id', type: 'varchar', length: 36, nullable: true })
  userId: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 200, nullable: true })
  userAgent: string | null;

  @Column({ name: 'route_group', type: 'varchar', length: 64, nullable: true })
  group: string | null;

  @Column({ type: 'simple-json' })
  details: AuditDetails;

  /** Webhook outbox: when the next delivery attempt is due; null once delivered (or never to be sent). */
  @Index('IDX_audit_events_delivery')
  @Column({ name: 'next_delivery_at', type: 'bigint', nullable: true, transformer: bigintMs })
  nextDeliveryAt: number | null;

  @Column({ name: 'delivery_attempts', type: 'integer', default: 0 })
  deliveryAttempts: number;

  @Column({ name: 'delivered_at', type: 'bigint', nullable: true, transformer: bigintMs })
  deliveredAt: number | null;
}
