import { Body, Controller, Param, ParseUUIDPipe, Put } from '@nestjs/common';
import { SetRolesDto } from '../users/dto';
import { AuthService } from './auth.service';
import { Roles, RouteGroup } from './decorators';

@Controller('api/admin/users')
@RouteGroup('api')
@Roles('admin')
export class AdminUsersController {
  constructor(private readonly auth: AuthService) {}

  @Put(':id/roles')
  setRoles(@Param('id', new ParseUUIDPipe({ version: '4' })) id: string, @Body() body: SetRolesDto) {
    return this.auth.changeRoles(id, body.roles);
  }
}
