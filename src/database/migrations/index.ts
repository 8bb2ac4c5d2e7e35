import { InitialSchema1732300000000 } from './1732300000000-InitialSchema';
import { RefreshTokenAccessJti1732400000000 } from './1732400000000-RefreshTokenAccessJti';
import { CredentialVersions1732500000000 } from './1732500000000-CredentialVersions';
import { RefreshFamilyGroup1732600000000 } from './1732600000000-RefreshFamilyGroup';
import { OneTimeTokens1732700000000 } from './1732700000000-OneTimeTokens';
import { RefreshSuccessor1732800000000 } from './1732800000000-RefreshSuccessor';
import { DeviceActivity1732900000000 } from './1732900000000-DeviceActivity';
import { EmailVerification1733000000000 } from './1733000000000-EmailVerification';
import { Clients1733100000000 } from './1733100000000-Clients';
import { Operations1733200000000 } from './1733200000000-Operations';

/**
 * AuthSwitch's own migrations, in order, for a host application's DataSource
 * (`migrations: [...AUTH_SWITCH_MIGRATIONS, ...yourOwn]`). This server loads every file of this
 * folder instead, so a migration made with `npm run migration:generate` is picked up as it is;
 * a unit test keeps this list equal to the folder.
 */
export const AUTH_SWITCH_MIGRATIONS = [
  InitialSchema1732300000000,
  RefreshTokenAccessJti1732400000000,
  CredentialVersions1732500000000,
  RefreshFamilyGroup1732600000000,
  OneTimeTokens1732700000000,
  RefreshSuccessor1732800000000,
  DeviceActivity1732900000000,
  EmailVerification1733000000000,
  Clients1733100000000,
  Operations1733200000000,
];
