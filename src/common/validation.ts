import { ArgumentMetadata, BadRequestException, ValidationPipe } from '@nestjs/common';
import { parsedBodyProblem } from './body-checks';
import { IsDefined, isEmail, IsString, MaxLength, ValidateBy, ValidationOptions } from 'class-validator';

/**
 * Applies property decorators so that class-validator checks them in the order written.
 *
 * Stacked decorators are evaluated bottom-up, and class-validator runs a property's constraints
 * in the order they were registered. With the global `stopAtFirstError`, only the first failure
 * is reported, so a stack written top-down ("is a string", then "at most 320 characters") would
 * answer a missing field with the length message. Listing the checks here avoids that trap.
 */
export function Checks(...decorators: PropertyDecorator[]): PropertyDecorator {
  return (target, propertyKey) => {
    for (const decorator of decorators) decorator(target, propertyKey);
  };
}

/** Missing or null. class-validator always runs IsDefined before the other constraints. */
export function Required(field: string): PropertyDecorator {
  return IsDefined({ message: `${field} is required` });
}

/** A required string field of bounded length without NUL: presence, type, content, size. */
export function RequiredText(field: string, maxLength: number): PropertyDecorator {
  return Checks(
    Required(field),
    IsString({ message: `${field} must be a string` }),
    NoNulCharacters(),
    MaxLength(maxLength, { message: `${field} must be at most ${maxLength} characters` }),
  );
}

export const NO_NUL = 'noNulCharacters';

/**
 * Refuses strings holding U+0000. PostgreSQL cannot store NUL in text columns and the driver
 * fails the query (a 500); no legitimate email, name, password or token contains one.
 * Non-strings pass: the type is someone else's check.
 */
export function NoNulCharacters(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: NO_NUL,
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || !value.includes('\u0000'),
        defaultMessage: (args) => `${args?.property ?? 'value'} must not contain NUL characters`,
      },
    },
    options,
  );
}

export const EMAIL_ADDRESS = 'emailAddress';

/**
 * An email address as registration accepts them (class-validator's IsEmail on the trimmed
 * value). Where an email names an account to count attempts against (login, forgot password),
 * a name no account can have is refused (400) before anything is counted. Non-strings pass.
 */
export function EmailAddress(field = 'email'): PropertyDecorator {
  return ValidateBy({
    name: EMAIL_ADDRESS,
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || isEmail(value.trim()),
      defaultMessage: () => `${field} must be a valid email address`,
    },
  });
}

/**
 * The validation every AuthSwitch body gets: unknown fields stripped, values transformed to the
 * DTO types, the first failure per field reported. AuthSwitch's own controllers apply it
 * themselves, so their bodies are checked in any host, with or without a global pipe.
 */
export function createValidationPipe(): ValidationPipe {
  return new BodySafeValidationPipe({
    whitelist: true,
    transform: true,
    forbidUnknownValues: true,
    stopAtFirstError: true,
    validationError: { target: false, value: false },
  });
}

/**
 * Checks a body's depth and Unicode before class-transformer and class-validator see it: both
 * recurse (a deep body overflows the stack) and some validators throw on a lone surrogate, each
 * a 500. The server's own parser refuses such bodies before parsing; this covers a host that
 * keeps Nest's default parser.
 */
class BodySafeValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body') {
      const problem = parsedBodyProblem(value);
      if (problem) throw new BadRequestException(problem);
    }
    return super.transform(value, metadata);
  }
}
