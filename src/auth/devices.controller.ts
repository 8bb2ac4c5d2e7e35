import { Controller, Delete, Get, HttpCode, Param, Req, Res } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import type { AuthenticatedRequest, UserPrincipal } from '../common/authenticated-request';
import { ApiErrorResponse, ApiStrategySecurity } from '../common/openapi-decorators';
import { CurrentUser, UsersOnly } from '../access/decorators';
import { Device, DevicesService } from './devices.service';
import { AuthSwitchRoutesBinding } from './group-routes';
import { DeviceResponse } from './responses';

/**
 * The device list: the user's web sessions and refresh-token families, one list, and ending one
 * of them. Group-independent like AccountController: a Bearer token or the session (with its
 * X-CSRF-Token on DELETE, checked by the session strategy).
 */
@Controller('auth/sessions')
// A device list is a person's; a machine client has none.
@UsersOnly()
@AuthSwitchRoutesBinding()
@ApiTags('account')
@ApiStrategySecurity('any')
export class DevicesController {
  constructor(private readonly devices: DevicesService) {}

  @Get()
  @ApiOperation({ summary: 'Your sign-ins: each live web session and refresh-token family, where it came from and when it was last used' })
  @ApiOkResponse({ type: DeviceResponse, isArray: true, description: 'Oldest first; `current` marks the one of this request' })
  list(@CurrentUser() user: UserPrincipal, @Req() req: AuthenticatedRequest): Promise<Device[]> {
    return this.devices.list(user, req);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'End one of your sign-ins: the session is deleted, or the refresh family revoked with every access token issued from it' })
  @ApiParam({ name: 'id', description: 'The `id` of an entry of GET /auth/sessions' })
  @ApiNoContentResponse({ description: 'Ended, on every instance; ending the session of this request also clears its cookie' })
  @ApiErrorResponse(404, 'No sign-in of yours has this id', 'Session not found')
  async end(
    @CurrentUser() user: UserPrincipal,
    @Param('id') id: string,
    @Req() req: AuthenticatedRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<void> {
    await this.devices.end(user, id, req, res);
  }
}
