import { AuditEventRecord } from '../audit/audit-event.entity';
import { Client, UsedClientAssertion } from '../clients/client.entity';
import { SessionRecord } from '../sessions/session-record.entity';
import { OneTimeToken } from '../tokens/one-time-token.entity';
import { RefreshFamily } from '../tokens/refresh-family.entity';
import { RefreshToken } from '../tokens/refresh-token.entity';
import { Revocation } from '../tokens/revocation.entity';
import { KnownDevice } from '../users/known-device.entity';
import { User } from '../users/user.entity';

/** AuthSwitch's entities, for a host DataSource that does not use `autoLoadEntities`. */
export const AUTH_SWITCH_ENTITIES = [
  User,
  RefreshFamily,
  RefreshToken,
  Revocation,
  SessionRecord,
  OneTimeToken,
  Client,
  UsedClientAssertion,
  AuditEventRecord,
  KnownDevice,
];
