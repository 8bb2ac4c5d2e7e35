import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SessionRecord } from './session-record.entity';
import { SessionService } from './session.service';

@Module({
  imports: [TypeOrmModule.forFeature([SessionRecord])],
  providers: [SessionService],
  exports: [SessionService],
})
export class SessionsModule {}
