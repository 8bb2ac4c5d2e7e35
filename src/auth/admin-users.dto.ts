import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsISO8601, IsOptional, IsString, Length, Max, MaxLength, Min, ValidateBy } from 'class-validator';
import { Checks, NoNulCharacters, Required } from '../common/validation';

// The administration routes' bodies, queries and answers. As in ../users/dto.ts, Checks(...) runs
// the constraints in the order listed, and @ApiProperty repeats them for the OpenAPI document.

/** An empty query parameter (`?cursor=`) is an absent one. */
const emptyIsAbsent = ({ value }: { value: unknown }) => (value === '' ? undefined : value);
/** `?limit=20` arrives as text: whole numbers become numbers, anything else stays and fails IsInt. */
const wholeNumber = ({ value }: { value: unknown }) =>
  value === '' ? undefined : typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : value;
const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

export const USERS_PAGE_DEFAULT = 50;
export const USERS_PAGE_MAX = 100;
export const USERS_QUERY_MAX = 320;

export class ListUsersQuery {
  @ApiPropertyOptional({ maxLength: USERS_QUERY_MAX, description: 'Part of the email or name, case-insensitive.', example: 'ada' })
  @Checks(
    IsOptional(),
    IsString({ message: 'query must be a string' }),
    NoNulCharacters(),
    MaxLength(USERS_QUERY_MAX, { message: `query must be at most ${USERS_QUERY_MAX} characters` }),
  )
  query?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: USERS_PAGE_MAX, default: USERS_PAGE_DEFAULT, description: 'Users per page.' })
  @Transform(wholeNumber)
  @Checks(
    IsOptional(),
    IsInt({ message: `limit must be a whole number from 1 to ${USERS_PAGE_MAX}` }),
    Min(1, { message: `limit must be a whole number from 1 to ${USERS_PAGE_MAX}` }),
    Max(USERS_PAGE_MAX, { message: `limit must be a whole number from 1 to ${USERS_PAGE_MAX}` }),
  )
  limit?: number;

  @ApiPropertyOptional({ maxLength: 1024, description: 'The `next_cursor` of the previous page; opaque.' })
  @Transform(emptyIsAbsent)
  @Checks(IsOptional(), IsString({ message: 'cursor must be a string' }), MaxLength(1024, { message: 'cursor must be at most 1024 characters' }))
  cursor?: string;
}

/** An ISO 8601 date (checked before) that is later than now. */
function InTheFuture(field: string): PropertyDecorator {
  return ValidateBy({
    name: 'inTheFuture',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || Date.parse(value) > Date.now(),
      defaultMessage: () => `${field} must be in the future`,
    },
  });
}

export class DisableUserDto {
  @ApiProperty({ minLength: 1, maxLength: 200, description: 'Why; kept on the account and in the audit event.', example: 'Reported for abuse' })
  @Transform(trim)
  @Checks(
    Required('reason'),
    IsString({ message: 'reason must be a string' }),
    NoNulCharacters(),
    Length(1, 200, { message: 'reason must be 1 to 200 characters' }),
  )
  reason: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'When the disablement lapses by itself (ISO 8601, in the future); never without it.' })
  @Checks(
    IsOptional(),
    IsString({ message: 'until must be a string' }),
    IsISO8601({ strict: true }, { message: 'until must be an ISO 8601 date' }),
    InTheFuture('until'),
  )
  until?: string;
}

/** A user as administrators see it; never the password hash or the credential version. */
export class AdminUserResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ format: 'email', example: 'ada@example.com' })
  email: string;

  name: string;

  @ApiProperty({ example: ['user'] })
  roles: string[];

  /** Whether the address has been confirmed. */
  emailVerified: boolean;

  /** Whether an administrator's disablement holds now (one with an end lapses by itself). */
  disabled: boolean;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'The last successful sign-in; null if none.' })
  lastLoginAt: string | null;
}

/** One user: the list's fields and the disablement, if any. */
export class AdminUserDetailResponse extends AdminUserResponse {
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  disabledAt: string | null;

  @ApiProperty({ type: String, nullable: true })
  disabledReason: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When the disablement lapses; null: never (or not disabled).' })
  disabledUntil: string | null;
}

export class AdminUserListResponse {
  @ApiProperty({ type: [AdminUserResponse] })
  users: AdminUserResponse[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass it as `cursor` for the next page; null on the last page.' })
  next_cursor: string | null;
}
