// The baseline: a bare NestJS 11 app with the same public route and nothing else, so the
// benchmark can show whether AuthSwitch's plumbing taxes routes that do not use it.
require('reflect-metadata');
const { Controller, Get, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');

class HealthController {
  live() {
    return { status: 'ok' };
  }
}
Controller('health')(HealthController);
Get()(HealthController.prototype, 'live', Object.getOwnPropertyDescriptor(HealthController.prototype, 'live'));

class BareModule {}
Module({ controllers: [HealthController] })(BareModule);

NestFactory.create(BareModule, { logger: false })
  .then((app) => app.listen(Number(process.env.PORT), '127.0.0.1'))
  .then(() => console.log('bare app ready'));
