import { Global, Module } from '@nestjs/common';
import { MetricsService } from './metrics.service';

/** MetricsService, one per application (global: every feature counts into the same registry). */
@Global()
@Module({ providers: [MetricsService], exports: [MetricsService] })
export class MetricsModule {}
