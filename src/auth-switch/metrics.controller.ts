import { Controller, Get, Module, NotFoundException, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { Public } from '../access/decorators';
import { MetricsService } from '../metrics/metrics.service';

/**
 * `GET /metrics`: the Prometheus text format, for a request bearing METRICS_TOKEN (`metrics.token`)
 * as a Bearer token. Without a configured token, or with a wrong or missing one, it answers as a
 * route that does not exist (404), so that it tells nobody it is there.
 *
 * Public to the access policy (it checks its own token), and left out of the OpenAPI document.
 */
@Controller('metrics')
@Public()
@ApiExcludeController()
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  async scrape(@Req() req: Request, @Res() res: Response): Promise<void> {
    // The message an unknown route gets, so that the answer is the same as for any other.
    if (!this.metrics.authorizes(req.headers.authorization)) throw new NotFoundException(`Cannot ${req.method} ${req.originalUrl}`);
    const body = await this.metrics.metrics();
    res.setHeader('Cache-Control', 'no-store');
    // Exactly the registry's type (res.send would rewrite its parameters).
    res.setHeader('Content-Type', this.metrics.contentType);
    res.status(200).end(body);
  }
}

/** The route alone (MetricsService comes from the global MetricsModule). */
@Module({ controllers: [MetricsController] })
export class MetricsRoutesModule {}
