import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditEventRecord } from './audit-event.entity';
import { AuditWebhook } from './audit-webhook';
import { AuditService } from './audit.service';

@Module({
  imports: [TypeOrmModule.forFeature([AuditEventRecord])],
  providers: [AuditService, AuditWebhook],
  exports: [AuditService, AuditWebhook],
})
export class AuditModule {}
