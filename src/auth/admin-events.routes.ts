import { BadRequestException, Controller, Get, Injectable, Query, Res, Type } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import type { Response } from 'express';
import { AUDIT_EVENT_TYPES, AuditEventType } from '../audit/audit-events';
import { AuditPage, AuditService, decodeCursor } from '../audit/audit.service';
import { Roles, RouteGroup } from '../access/decorators';
import { authError } from '../common/auth-errors';
import { ApiErrorResponse, ApiStrategySecurity } from '../common/openapi-decorators';
import { AuthSwitchRoutes, AuthSwitchRoutesBinding } from './group-routes';

export class EventsQuery {
  @ApiPropertyOptional({ enum: AUDIT_EVENT_TYPES, description: 'Only events of this type' })
  @IsOptional()
  @IsIn(AUDIT_EVENT_TYPES, { message: 'type must be one of the audit event types' })
  type?: AuditEventType;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only events about this user' })
  @IsOptional()
  @IsUUID('4', { message: 'userId must be a UUID v4' })
  userId?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Only events at or after this time (ISO 8601)' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'since must be an ISO 8601 date-time' })
  since?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50 })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^\d{1,4}$/.test(value) ? Number(value) : value))
  @IsInt({ message: 'limit must be an integer from 1 to 100' })
  @Min(1, { message: 'limit must be an integer from 1 to 100' })
  @Max(100, { message: 'limit must be an integer from 1 to 100' })
  limit?: number;

  @ApiPropertyOptional({ description: "The previous page's next_cursor" })
  @IsOptional()
  @IsString({ message: 'cursor must be a string' })
  @MaxLength(64, { message: 'Invalid cursor' })
  cursor?: string;
}

class AuditActorResponse {
  @ApiProperty({ enum: ['user', 'client', 'admin', 'system'] })
  kind: string;
  @ApiProperty({ type: String, nullable: true })
  id: string | null;
}

class AuditEventResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;
  @ApiProperty({ enum: AUDIT_EVENT_TYPES })
  type: string;
  @ApiProperty({ format: 'date-time' })
  at: string;
  @ApiProperty({ type: AuditActorResponse })
  actor: AuditActorResponse;
  @ApiProperty({ type: String, nullable: true, format: 'uuid' })
  userId: string | null;
  @ApiProperty({ type: String, nullable: true })
  ip: string | null;
  @ApiProperty({ type: String, nullable: true })
  userAgent: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The route group the event happened in' })
  group: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Depends on the type; never a secret or an email address' })
  details: Record<string, unknown>;
}

class AuditPageResponse {
  @ApiProperty({ type: [AuditEventResponse], description: 'Newest first' })
  events: AuditEventResponse[];
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next page; null on the last one' })
  next_cursor: string | null;
}

/** The audit trail, for administrators (in the admin group). */
@Injectable()
@AuthSwitchRoutesBinding()
abstract class AdminEventsRoutes {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiOperation({ summary: 'The audit trail, newest first, with filters and a cursor (admin only)' })
  @ApiOkResponse({ type: AuditPageResponse })
  @ApiErrorResponse(400, 'A filter that is not valid, or a cursor we did not give out', 'Invalid cursor')
  async list(@Query() query: EventsQuery, @Res({ passthrough: true }) res: Response): Promise<AuditPage> {
    res.setHeader('Cache-Control', 'no-store');
    if (query.cursor !== undefined && decodeCursor(query.cursor) === null) throw authError('INVALID_CURSOR');
    const since = query.since === undefined ? undefined : Date.parse(query.since);
    if (since !== undefined && Number.isNaN(since)) throw new BadRequestException('since must be an ISO 8601 date-time');
    return this.audit.list({ type: query.type, userId: query.userId, since, limit: query.limit ?? 50, cursor: query.cursor });
  }
}

export function adminEventsController(routes: AuthSwitchRoutes): Type {
  const controller = class AdminEventsController extends AdminEventsRoutes {};
  Controller(`${routes.adminGroup}/admin/events`)(controller);
  RouteGroup(routes.adminGroup)(controller);
  Roles('admin')(controller);
  ApiTags(routes.adminGroup)(controller);
  ApiStrategySecurity(routes.groups.get(routes.adminGroup) ?? 'any')(controller);
  return controller;
}
