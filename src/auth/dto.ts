import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { Checks, EmailAddress, NoNulCharacters, Required } from '../common/validation';

// Checks(...) runs the constraints in the order listed, and the global ValidationPipe reports
// only the first failure per field: presence, then type, then content, then size. The Swagger
// plugin cannot see constraints inside Checks(...), so @ApiProperty repeats the sizes.

export class LoginDto {
  @ApiProperty({ format: 'email', minLength: 1, maxLength: 320, example: 'ada@example.com' })
  @Checks(
    Required('email'),
    IsString({ message: 'email must be a string' }),
    NoNulCharacters(),
    IsNotEmpty({ message: 'email must not be empty' }),
    MaxLength(320, { message: 'email must be at most 320 characters' }),
    EmailAddress(),
  )
  email: string;

  // Bounded so that nobody can make the server hash megabytes; longer never matches anyway.
  @ApiProperty({ minLength: 1, maxLength: 1024, format: 'password' })
  @Checks(
    Required('password'),
    IsString({ message: 'password must be a string' }),
    NoNulCharacters(),
    IsNotEmpty({ message: 'password must not be empty' }),
    MaxLength(1024, { message: 'password must be at most 1024 characters' }),
  )
  password: string;
}

export class RefreshDto {
  @ApiProperty({ minLength: 1, maxLength: 512, description: 'The refresh token of the last token pair; single-use.' })
  @Checks(
    Required('refresh_token'),
    IsString({ message: 'refresh_token must be a string' }),
    NoNulCharacters(),
    IsNotEmpty({ message: 'refresh_token must not be empty' }),
    MaxLength(512, { message: 'refresh_token must be at most 512 characters' }),
  )
  refresh_token: string;
}

export class LogoutDto {
  @ApiPropertyOptional({ maxLength: 512, description: 'JWT groups: the refresh token to revoke, with its family.' })
  @Checks(
    IsOptional(),
    IsString({ message: 'refresh_token must be a string' }),
    NoNulCharacters(),
    MaxLength(512, { message: 'refresh_token must be at most 512 characters' }),
  )
  refresh_token?: string;
}
