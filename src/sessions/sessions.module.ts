import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RefreshFamily } from '../tokens/refresh-family.entity';
import { DeviceActivity } from './device-activity';
import { SessionRecord } from './session-record.entity';
import { SessionService } from './session.service';

@Module({
  imports: [TypeOrmModule.forFeature([SessionRecord, RefreshFamily])],
  providers: [SessionService, DeviceActivity],
  exports: [SessionService, DeviceActivity],
})
export class SessionsModule {}
