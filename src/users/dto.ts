import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsEmail, IsOptional, IsString, Length, Matches, MaxLength } from 'class-validator';
import { Checks, EmailAddress, NoNulCharacters, Required, RequiredText } from '../common/validation';

const trimLower = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toLowerCase() : value);
const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

// Checks(...) runs the constraints in the order listed; the API reports the first failure per
// field (stopAtFirstError), the CLI all of them. The Swagger plugin cannot see constraints
// inside Checks(...), so @ApiProperty repeats them for the OpenAPI document.

/** A password being set (register, reset, change): 8 to 256 characters, no NUL. */
const NewPasswordChecks = (field: string): PropertyDecorator =>
  Checks(
    Required(field),
    IsString({ message: `${field} must be a string` }),
    NoNulCharacters(),
    Length(8, 256, { message: `${field} must be 8 to 256 characters` }),
  );

export class RegisterDto {
  @ApiProperty({ format: 'email', maxLength: 320, example: 'ada@example.com', description: 'Trimmed and lower-cased.' })
  @Transform(trimLower)
  @Checks(
    Required('email'),
    IsString({ message: 'email must be a string' }),
    NoNulCharacters(),
    MaxLength(320, { message: 'email must be at most 320 characters' }),
    IsEmail({}, { message: 'email must be a valid email address' }),
  )
  email: string;

  @ApiProperty({ minLength: 8, maxLength: 256, format: 'password' })
  @NewPasswordChecks('password')
  password: string;

  @ApiPropertyOptional({ maxLength: 100, example: 'Ada Lovelace', description: 'Display name; trimmed.' })
  @Transform(trim)
  @Checks(IsOptional(), IsString({ message: 'name must be a string' }), NoNulCharacters(), MaxLength(100, { message: 'name must be at most 100 characters' }))
  name?: string;
}

export const ROLE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

export class SetRolesDto {
  @ApiProperty({
    type: 'array',
    items: { type: 'string', pattern: ROLE_NAME.source },
    maxItems: 20,
    example: ['admin'],
    description: "The user's new roles, replacing the old ones.",
  })
  @Checks(
    Required('roles'),
    IsArray({ message: 'roles must be an array' }),
    ArrayMaxSize(20, { message: 'roles must contain at most 20 entries' }),
    IsString({ each: true, message: 'each role must be a string' }),
    NoNulCharacters({ each: true, message: 'roles must not contain NUL characters' }),
    Matches(ROLE_NAME, { each: true, message: 'each role must be a lower-case name of at most 32 characters' }),
  )
  roles: string[];
}

export class ForgotPasswordDto {
  @ApiProperty({ format: 'email', maxLength: 320, example: 'ada@example.com' })
  @Transform(trimLower)
  @Checks(RequiredText('email', 320), EmailAddress())
  email: string;
}

export class ResetPasswordDto {
  @ApiProperty({ maxLength: 128, description: 'The token of the reset link (`?token=...`).' })
  @RequiredText('token', 128)
  token: string;

  @ApiProperty({ minLength: 8, maxLength: 256, format: 'password' })
  @NewPasswordChecks('password')
  password: string;
}

export class ChangePasswordDto {
  @ApiProperty({ maxLength: 1024, format: 'password' })
  @RequiredText('currentPassword', 1024)
  currentPassword: string;

  @ApiProperty({ minLength: 8, maxLength: 256, format: 'password' })
  @NewPasswordChecks('newPassword')
  newPassword: string;
}

export class VerifyEmailDto {
  @ApiProperty({ maxLength: 128, description: 'The token of the verification link (`?token=...`).' })
  @RequiredText('token', 128)
  token: string;
}

export class ResendVerificationDto {
  @ApiPropertyOptional({
    format: 'email',
    maxLength: 320,
    example: 'ada@example.com',
    description: 'Signed out: the address to mail a new link to (trimmed and lower-cased). Signed in: leave it out to use your own.',
  })
  @Transform(trimLower)
  @Checks(
    IsOptional(),
    IsString({ message: 'email must be a string' }),
    NoNulCharacters(),
    MaxLength(320, { message: 'email must be at most 320 characters' }),
    IsEmail({}, { message: 'email must be a valid email address' }),
  )
  email?: string;
}
